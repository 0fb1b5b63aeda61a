"""`nnc stats --memory-budget`: the totals for inference and a training step, and the
largest batch that fits, against bytes counted by hand from the layers' shapes."""
import json
import textwrap

import pytest

from nnc import cli

TINY = """
    input 8x8x3
    a: conv3-4, relu, maxpool, fc-10
"""
# weights: conv 3·3·3·4 + 4 = 112, fc 64·10 + 10 = 650, all trainable
WEIGHTS = 112 + 650
# inference: the input stays alive throughout (the caller holds it); conv holds it and
# its output, 192 + 256 values; relu runs in place; pool holds 192 + 256 + 64 (the peak),
# fc 192 + 64 + 10
PEAK = 192 + 256 + 64
# training keeps what backward reads: the input (conv's), the conv/relu buffer (relu's
# output, pool's input), the pool output (fc's input) and the output (the loss's). Its
# backward pass peaks at relu's step: the input and the conv/relu buffer still kept, the
# gradient of relu's output arriving and that of conv's output leaving.
BACKWARD_PEAK = 192 + 256 + 256 + 256
TARGETS = 10  # one-hot targets, the size of the output


def stats_json(tmp_path, capsys, text: str, *options: str) -> dict:
    path = tmp_path / "net.arch"
    path.write_text(textwrap.dedent(text))
    assert cli.main(["stats", "--json", str(path), *options]) == 0
    return json.loads(capsys.readouterr().out)["memory"]


@pytest.mark.parametrize("optimizer, copies", [("sgd", 0), ("momentum", 1), ("adam", 2)])
def test_training_step_total_counts_weights_gradients_optimizer_state_and_batch(
        tmp_path, capsys, optimizer, copies):
    memory = stats_json(tmp_path, capsys, TINY, "--batch", "3")
    total = 4 * (WEIGHTS * (2 + copies) + 3 * (BACKWARD_PEAK + TARGETS))
    assert memory["training_step_total"][optimizer] == total
    assert memory["inference_total"] == 4 * (WEIGHTS + 3 * PEAK)


def test_the_largest_batch_that_fits_and_its_headroom(tmp_path, capsys):
    budget = 2**20
    memory = stats_json(tmp_path, capsys, TINY, "--memory-budget", "1MiB",
                        "--optimizer", "momentum")
    fit = memory["budget"]
    training_fixed, training_image = 4 * 3 * WEIGHTS, 4 * (BACKWARD_PEAK + TARGETS)
    batch = (budget - training_fixed) // training_image
    assert fit["training"]["batch"] == batch
    assert fit["training"]["headroom"] == budget - training_fixed - batch * training_image
    assert fit["training"]["headroom"] < training_image  # one image more would not fit
    batch = (budget - 4 * WEIGHTS) // (4 * PEAK)
    assert fit["inference"]["batch"] == batch
    assert fit["inference"]["total"] == 4 * (WEIGHTS + batch * PEAK)


def test_bfloat16_halves_every_figure_and_fits_twice_the_images(tmp_path, capsys):
    memory = stats_json(tmp_path, capsys, TINY, "--memory-budget", "8GB",
                        "--dtype", "bfloat16")
    assert memory["budget"]["bytes"] == 8 * 10**9
    per_image = 2 * (BACKWARD_PEAK + TARGETS)
    assert memory["budget"]["training"]["batch"] == (8 * 10**9 - 2 * 4 * WEIGHTS) // per_image


def test_a_budget_too_small_for_one_image_says_so(tmp_path, capsys):
    path = tmp_path / "net.arch"
    path.write_text(textwrap.dedent(TINY))
    assert cli.main(["stats", str(path), "--memory-budget", "8KiB"]) == 0
    out = capsys.readouterr().out
    one_image = 4 * (4 * WEIGHTS + BACKWARD_PEAK + TARGETS)  # 16,072 bytes: more than 8 KiB
    assert f"training:   does not fit: one image needs {one_image / 1024:.1f} KiB" in out
    inference = (8192 - 4 * WEIGHTS) // (4 * PEAK)  # 2 images
    assert f"inference:  largest batch {inference}," in out


def test_an_output_only_an_add_reads_is_not_kept_for_backward(tmp_path, capsys):
    memory = stats_json(tmp_path, capsys, """
        input 4x4x2
        block unit():
            residual:
                conv3-2, bn
            relu
        r: unit
    """)
    # input (conv reads it), conv's output (bn reads it), the add/relu buffer (relu's
    # output); bn's output only the add reads, whose backward needs none of its inputs
    assert memory["per_image"]["training_kept"] == 4 * 3 * 32


@pytest.mark.parametrize("activation, kept", [
    # relu runs in place: the input, conv's output (bn's input), the bn/relu buffer
    # (relu's output, the fc's input) and the output
    ("relu", 32 + 32 + 32 + 3),
    # swish's backward reads its input, so bn's output is kept beside swish's
    ("swish", 32 + 32 + 32 + 32 + 3),
    ("gelu", 32 + 32 + 32 + 32 + 3),
])
def test_an_activation_whose_backward_reads_its_input_keeps_it(
        tmp_path, capsys, activation, kept):
    memory = stats_json(tmp_path, capsys, f"""
        input 4x4x2
        a: conv3-2, bn, {activation}, fc-3
    """)
    assert memory["per_image"]["training_kept"] == 4 * kept
    # at inference both run in place: at the fc's step the input (alive throughout),
    # the conv/bn/activation buffer and the fc's output
    assert memory["per_image"]["peak_live"] == 4 * (32 + 32 + 3)


@pytest.mark.parametrize("activation, kept", [("relu", 32 + 32 + 3),
                                              ("swish", 32 + 32 + 32 + 3)])
def test_a_fused_activation_that_reads_its_input_keeps_the_values_before_it(
        tmp_path, capsys, activation, kept):
    # the input (conv's), conv's output (the fc's input), the output; with swish also
    # the values before it, which the layer computes and its backward pass reads
    memory = stats_json(tmp_path, capsys, f"""
        input 4x4x2
        a: conv3-2(activation={activation}), fc-3
    """)
    assert memory["per_image"]["training_kept"] == 4 * kept


@pytest.mark.parametrize("rate, kept", [
    # the input (the fc's), the fc's output: the last fc reads it through the dropout,
    # whose backward reads its mask, a byte a value, and not its output; the output
    (0.5, 4 * (32 + 8 + 3) + 8),
    # a dropout of rate 0 is the identity: no mask
    (0.0, 4 * (32 + 8 + 3)),
])
def test_a_dropout_keeps_its_mask(tmp_path, capsys, rate, kept):
    memory = stats_json(tmp_path, capsys, f"""
        input 4x4x2
        a: fc-8, dropout({rate}), fc-3
    """)
    assert memory["per_image"]["training_kept"] == kept


@pytest.mark.parametrize("rows, kept", [
    # relu's input has two readers, so relu writes a buffer of its own; its backward
    # reads its output, the add's nothing: the input, relu's output, the add's output
    # (the fc's input) and the fc's output; conv's output is not kept
    ("""
        block unit():
            residual:
                relu, conv1-2
        a: conv1-2, unit, fc-3""", 4 * (32 + 32 + 32 + 3)),
    # a dropout on the input batch cannot write over the caller's buffer: the input
    # (alive throughout), the dropout's output (the fc's input), its mask, the output
    ("a: dropout(0.5), fc-3", 4 * (32 + 32 + 3) + 32),
    # a dropout after a sigmoid cannot write over the output sigmoid's backward reads
    ("a: conv1-2, sigmoid, dropout(0.5), fc-3", 4 * (32 + 32 + 32 + 3) + 32),
    # the input (conv's), the add's output (the loss's) and the dropout's mask; conv's
    # output only the dropout and the add read, and neither's backward reads values
    ("""
        block unit():
            residual:
                conv3-2, dropout(0.5)
        r: unit""", 4 * (32 + 32) + 32),
    # the input (conv's), conv's output (lrn's input), lrn's output (the fc's input),
    # lrn's scale k + alpha·Σa² (its derivative divides by it), the output
    ("a: conv3-2, lrn, fc-3", 4 * (32 + 32 + 32 + 32 + 3)),
])
def test_what_training_keeps_by_hand(tmp_path, capsys, rows, kept):
    memory = stats_json(tmp_path, capsys, "input 4x4x2\n" + textwrap.dedent(rows))
    assert memory["per_image"]["training_kept"] == kept


def test_an_identity_branch_shares_its_inputs_buffer(tmp_path, capsys):
    memory = stats_json(tmp_path, capsys, """
        input 4x4x2
        block layer():
            concat:
                identity
                conv1-2
        a: conv1-2, layer
    """)
    # the concat's step: the input (alive throughout), a's output (which the identity
    # passes on without a copy), the branch conv's output and the concat's
    assert memory["per_image"]["peak_live"] == 4 * (32 + 32 + 32 + 64)


@pytest.mark.parametrize("size", ["16QB", "-1GiB", "0", "GiB", "1.5.2MiB"])
def test_a_bad_budget_is_a_clear_error(tmp_path, capsys, size):
    path = tmp_path / "net.arch"
    path.write_text(textwrap.dedent(TINY))
    with pytest.raises(SystemExit) as stop:
        cli.main(["stats", str(path), f"--memory-budget={size}"])
    assert stop.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("nnc stats: error: argument --memory-budget:")
    assert error.endswith(f"Received: {size}")


def test_the_reports_say_what_each_figure_includes_in_the_words_of_the_docs(tmp_path, capsys):
    from conftest import ROOT

    from nnc.analysis.memory import INCLUDES
    docs = " ".join((ROOT / "docs" / "seeing.md").read_text().split())
    memory = stats_json(tmp_path, capsys, TINY)
    assert memory["includes"] == INCLUDES
    path = tmp_path / "net.arch"
    assert cli.main(["stats", str(path)]) == 0
    text = capsys.readouterr().out
    for words in INCLUDES.values():
        assert words in docs and words in text


def test_the_inference_total_leaves_out_the_side_heads_weights(tmp_path, capsys):
    memory = stats_json(tmp_path, capsys, """
        input 8x8x3
        a: conv3-4, relu
        aux: head(a):
            avgpool, fc-5
        b: maxpool, fc-10
    """)
    # weights: conv 112, head's fc 4·5 + 5 = 25, main fc 64·10 + 10 = 650
    assert memory["weights"] == 4 * (112 + 25 + 650)
    assert memory["inference_weights"] == 4 * (112 + 650)
    assert memory["inference_total"] == 4 * (112 + 650) + memory["per_image"]["peak_live"]
