"""draw_graph: the nodes and edges it draws, their labels, determinism, big graphs, and real rendering with `dot`.

Rendering uses the real Graphviz `dot` program on purpose: without it these tests fail rather than skip.
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.viz
from tensorgrad.cli.draw import mlp_training_step_graph
from tensorgrad.viz import draw_graph

DRAW_COMMAND = [sys.executable, "-m", "tensorgrad.cli.draw"]

NODE_LINE = re.compile(r"^\t(\w+) \[(.*)\]$")
EDGE_LINE = re.compile(r"^\t(\w+) -> (\w+)")


def nodes(dot) -> dict:
    """node id -> its attribute text, from the DOT body."""
    found = {}
    for line in dot.body:
        match = NODE_LINE.match(line.rstrip("\n"))
        if match and "->" not in line:
            found[match.group(1)] = match.group(2)
    return found


def edges(dot) -> list:
    return [m.groups() for line in dot.body if (m := EDGE_LINE.match(line))]


def op_nodes(dot) -> dict:
    return {k: v for k, v in nodes(dot).items() if "shape=ellipse" in v}


def tensor_nodes(dot) -> dict:
    return {k: v for k, v in nodes(dot).items() if "shape=box" in v and k != "more"}


def small_expression():
    a = tg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    b = tg.tensor([[0.5, -1.0, 2.0], [1.0, 0.0, -2.0]], requires_grad=True)
    c = tg.tensor([1.0, 1.0, 1.0])  # a constant, broadcast over the rows
    return ((a * b) + c).sum(), a, b, c


@pytest.fixture(scope="module")
def mlp_step():
    return mlp_training_step_graph()


@pytest.fixture(scope="module")
def long_chain():
    x = tg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    return y


# ----- structure
def test_small_expression_has_exact_node_and_edge_counts():
    loss, *_ = small_expression()
    dot = draw_graph(loss)
    assert len(op_nodes(dot)) == 3  # mul, add, sum
    assert len(tensor_nodes(dot)) == 6  # a, b, a*b, c, a*b+c, loss
    assert len(edges(dot)) == 8  # a, b -> mul -> ab; ab, c -> add -> abc; abc -> sum -> loss
    assert "more" not in nodes(dot)


def test_edges_run_tensor_to_op_to_output():
    loss, *_ = small_expression()
    dot = draw_graph(loss)
    ops, tensors = op_nodes(dot), tensor_nodes(dot)
    for source, target in edges(dot):
        assert (source in tensors and target in ops) or (source in ops and target in tensors)
    produced = [target for source, target in edges(dot) if source in ops]
    assert len(produced) == len(set(produced)) == 3  # each op has exactly one output


def test_a_tensor_used_twice_by_one_op_gets_two_edges():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    dot = draw_graph((x * x).sum())
    assert len(nodes(dot)) == 5
    assert len(edges(dot)) == 5
    (mul,) = [k for k, v in op_nodes(dot).items() if "label=mul" in v]
    assert sum(target == mul for _, target in edges(dot)) == 2


def test_root_that_is_a_leaf_is_one_node():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    dot = draw_graph(x)
    assert list(nodes(dot)) == ["n0"]
    assert edges(dot) == []


def test_mlp_training_step_graph_counts(mlp_step):
    loss, params = mlp_step
    dot = draw_graph(loss, params)
    # ops: 3 linear, 2 relu, 2 dropout mul, cross_entropy, l2_penalty, add
    assert len(op_nodes(dot)) == 10
    # tensors: images, labels, 2 masks, 6 parameters, 9 intermediate results, the loss
    assert len(tensor_nodes(dot)) == 20
    assert len(edges(dot)) == 32


# ----- labels and styles
def test_op_labels_are_their_descriptions(mlp_step):
    loss, params = mlp_step
    labels = [re.match(r"label=(\S+)", v).group(1) for v in op_nodes(draw_graph(loss, params)).values()]
    # the paper's L2 term is lam / (2 m) sum ||W||^2: the op carries lam / m = 1e-4 / 32
    expected = ["add", '"cross_entropy(mean)"', '"l2_penalty(lam=3.125e-06)"', *["linear"] * 3, "mul", "mul"]
    assert sorted(labels) == sorted([*expected, "relu", "relu"])


def test_tensor_labels_show_shape_dtype_and_names(mlp_step):
    loss, params = mlp_step
    source = draw_graph(loss, params).source
    for name, param in params.items():
        assert f"<b>{name}</b><br/>{tuple(param.shape)} float32" in source
    assert "<b>dropout mask (p=0.1)</b><br/>(32, 196) float32" in source
    assert "<b>dropout mask (p=0.1)</b><br/>(32, 64) float32" in source
    assert "<b>labels</b><br/>(32,) int64" in source
    assert "label=<(32, 10) float32>" in source  # the logits: unnamed intermediate
    assert "label=<scalar float32>" in source  # the loss


def test_params_mapping_names_a_tensor_and_wins_over_its_own_name():
    w = tg.tensor([1.0, 2.0], requires_grad=True, name="own name")
    v = tg.tensor([3.0, 4.0], requires_grad=True, name="v's own name")
    source = draw_graph((w * v).sum(), {"layer.weight": w}).source
    assert "<b>layer.weight</b>" in source
    assert "<b>own name</b>" not in source
    assert "<b>v&#x27;s own name</b>" in source  # HTML-escaped


def test_leaves_constants_intermediates_and_root_look_different():
    loss, *_ = small_expression()
    attrs = nodes(draw_graph(loss))
    root, leaf_a, constant_c, intermediate = attrs["n0"], attrs["n7"], attrs["n5"], attrs["n2"]
    assert "(2, 3) float32" in leaf_a and "(3,) float32" in constant_c  # ids follow breadth-first order
    styles = {re.sub(r"label=<[^>]*>+ ", "", text) for text in (root, leaf_a, constant_c, intermediate)}
    assert len(styles) == 4
    assert "dashed" in constant_c and "bold" in root


def test_grad_norm_is_shown_after_backward_with_the_right_value():
    w = tg.tensor([3.0, 4.0], requires_grad=True)
    u = tg.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    loss = (w * w).sum() + (u * u * u).mean()
    assert "grad norm" not in draw_graph(loss, show_grad_norm=True).source  # nothing before backward
    loss.backward(retain_graph=True)
    source = draw_graph(loss, {"w": w, "u": u}, show_grad_norm=True).source
    assert '<b>w</b><br/>(2,) float32<br/><font point-size="9">grad norm = 10</font>' in source
    shown = [float(v) for v in re.findall(r"grad norm = ([0-9.e+-]+)<", source)]
    expected_u = np.linalg.norm(3 * u.data.astype(np.float64) ** 2 / 6)  # d mean(u^3) / du = 3u^2 / 6
    assert sorted(shown) == pytest.approx(sorted([10.0, expected_u]), rel=1e-3)
    assert source.count("grad norm") == 2  # only the leaves have a .grad
    assert "grad norm" not in draw_graph(loss, {"w": w}).source  # off by default


def test_rankdir():
    loss, *_ = small_expression()
    assert "rankdir=LR" in draw_graph(loss, rankdir="LR").source
    assert "rankdir=TB" in draw_graph(loss).source
    with pytest.raises(ValueError, match="rankdir"):
        draw_graph(loss, rankdir="sideways")


# ----- determinism and errors
def test_identical_expressions_give_identical_source(mlp_step):
    first, second = small_expression()[0], small_expression()[0]
    assert draw_graph(first).source == draw_graph(second).source
    loss, params = mlp_step
    again, again_params = mlp_training_step_graph()
    assert (
        draw_graph(loss, params, show_grad_norm=True).source
        == draw_graph(again, again_params, show_grad_norm=True).source
    )
    assert not re.search(r"\d{9,}", draw_graph(loss, params).source)  # no id() anywhere


def test_released_graph_raises_a_clear_error():
    loss, *_ = small_expression()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"backward\(retain_graph=True\)"):
        draw_graph(loss)


def test_retained_graph_can_be_drawn_after_backward():
    loss, *_ = small_expression()
    loss.backward(retain_graph=True)
    assert len(nodes(draw_graph(loss))) == 9


def test_root_must_be_a_tensor():
    with pytest.raises(TypeError, match="Tensor"):
        draw_graph(np.ones(3))


# ----- big graphs
def test_long_chain_collapses_into_one_node_without_recursion(long_chain):
    dot = draw_graph(long_chain)
    assert len(nodes(dot)) == 4  # x, the 1.0 of the first mul, the run, the result
    (run,) = op_nodes(dot).values()
    assert "mul ×100,000" in run  # noqa: RUF001
    assert "99,999 constant inputs not shown" in run
    assert "peripheries=2" in run


def test_long_chain_without_collapsing_is_truncated_with_a_count(long_chain):
    dot = draw_graph(long_chain, collapse_runs=None, max_nodes=50)
    drawn = nodes(dot)
    assert len(drawn) == 51
    # 100,000 muls, 100,001 chain tensors, 100,000 constants: 300,001 nodes, 50 drawn
    assert "… 299,951 more nodes" in drawn["more"]
    assert any(source == "more" for source, _ in edges(dot))
    assert dot.pipe(format="svg").lstrip().startswith(b"<")


def test_short_runs_stay_expanded_unless_asked():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    loss = (x * 2 * 3).sum()
    assert len(op_nodes(draw_graph(loss))) == 3
    collapsed = op_nodes(draw_graph(loss, collapse_runs=2))
    assert len(collapsed) == 2
    assert any("mul ×2<br/>" in v and "1 constant input not shown" in v for v in collapsed.values())  # noqa: RUF001


def test_runs_do_not_swallow_tensors_used_elsewhere():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x
    for _ in range(12):
        h = h.tanh()
    middle = h
    for _ in range(12):
        h = h.tanh()
    dot = draw_graph((h + middle).sum(), collapse_runs=10)
    runs = [v for v in op_nodes(dot).values() if "peripheries=2" in v]
    assert len(runs) == 2 and all("tanh ×12" in v for v in runs)  # noqa: RUF001


# ----- rendering with the real `dot` and the script
def test_renders_svg_with_graphviz_dot(mlp_step):
    loss, params = mlp_step
    svg = draw_graph(loss, params, show_grad_norm=True, rankdir="LR").pipe(format="svg").decode()
    assert "<svg" in svg
    assert "0.weight" in svg and "cross_entropy(mean)" in svg
    assert svg.count('class="node"') == 30
    assert svg.count('class="edge"') == 32


def test_package_module_is_importable():
    assert tensorgrad.viz.draw_graph is draw_graph


@pytest.mark.parametrize(
    ("filename", "extra_args", "magic"),
    [("step.svg", ["--grad-norm", "--rankdir", "LR"], b"<"), ("step.png", [], b"\x89PNG")],
)
def test_script_writes_the_graph(tmp_path, filename, extra_args, magic):
    out = tmp_path / "nested" / filename
    result = subprocess.run(
        [*DRAW_COMMAND, "--out", str(out), *extra_args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    data = out.read_bytes()
    assert data.lstrip().startswith(magic)
    if filename.endswith(".svg"):
        text = data.decode()
        assert "<svg" in text and "6.bias" in text and "grad norm" in text
    assert [p.name for p in out.parent.iterdir()] == [filename]  # no temporary file left behind


def test_script_rejects_an_unknown_format(tmp_path):
    result = subprocess.run(
        [*DRAW_COMMAND, "--out", str(tmp_path / "graph.jpeg")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert ".svg" in result.stderr
