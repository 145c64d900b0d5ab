"""draw_graph of graphs that run through a backward (create_graph), and of custom Functions."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import numpy as np

import tensorgrad as tg
from tensorgrad.cli import draw
from tensorgrad.viz import draw_graph

from .test_draw_graph import edges, op_nodes, tensor_nodes


def op_labels(dot) -> Counter:
    return Counter(attributes.split("label=")[1].split(" ")[0] for attributes in op_nodes(dot).values())


def test_the_gradient_after_create_graph_is_drawn_with_the_backwards_ops():
    x = tg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x.tanh() * x).sum().backward(create_graph=True)
    dot = draw_graph(x.grad, {"x": x})
    # x.grad = g * x * (1 - t*t) + g * t: mul's two products, tanh's 1 - out*out and its product, the
    # accumulation of x's two gradients; the forward tanh they read is drawn once
    assert op_labels(dot) == Counter({"mul": 4, "tanh": 1, "sub": 1, "add": 1})
    named_x = [k for k, v in tensor_nodes(dot).items() if "<b>x</b>" in v]
    assert len(named_x) == 1
    # x feeds the forward tanh and the product grad * x of mul's backward
    assert sum(1 for source, _ in edges(dot) if source == named_x[0]) == 2


def test_a_result_that_the_forward_and_the_backward_both_read_is_one_node():
    x = tg.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    y = x.exp()
    # d/dx sum(y * x) = g * x * exp(x) + g * y: exp's backward reads its output, mul's backward reads y
    (grad,) = tg.autograd.grad((y * x).sum(), [x], create_graph=True)
    dot = draw_graph(grad)
    assert op_labels(dot) == Counter({"exp": 1, "mul": 3, "add": 1})
    exp_id = next(k for k, v in op_nodes(dot).items() if "label=exp" in v)
    (exp_output,) = [target for source, target in edges(dot) if source == exp_id]
    assert sum(1 for source, _ in edges(dot) if source == exp_output) == 2  # into both products


def test_a_custom_function_is_drawn_by_its_class_name():
    class Cube(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x**2

    class SplitHalves(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x[:2] * 1.0, x[2:] * 1.0

        @staticmethod
        def backward(ctx, first, second):
            return tg.index_add(first, slice(0, 2), (4,)) + tg.index_add(second, slice(2, 4), (4,))

    x = tg.tensor(np.arange(4.0), requires_grad=True)
    low, high = SplitHalves.apply(Cube.apply(x))
    dot = draw_graph((low * high).sum())
    # a Function of several outputs is one node; each output is picked from it by an "output" node
    assert op_labels(dot) == Counter({"Cube": 1, "SplitHalves": 1, "output": 2, "mul": 1, "sum": 1})


def test_a_second_order_graph_renders_with_dot():
    x = tg.tensor(np.array([[1.0, 2.0]]), requires_grad=True)
    w = tg.tensor(np.array([[0.5], [-1.0]]), requires_grad=True)
    (gw,) = tg.autograd.grad((x @ w).tanh().sum(), [w], create_graph=True)
    png = draw_graph((gw * gw).sum(), {"x": x, "w": w}).pipe(format="png")
    assert png.startswith(b"\x89PNG")


def test_the_script_draws_a_gradient_penalty_through_its_backward(tmp_path):
    out = tmp_path / "second_order.dot"
    subprocess.run(
        [sys.executable, "-m", "tensorgrad.cli.draw", "--second-order", "--out", str(out)],
        check=True,
        timeout=120,
    )
    source = out.read_text()
    assert "d loss / d W" in source
    penalty, params = draw.second_order_graph()
    # tanh's backward (1 - out * out) and matmul's (grad @ inputs^T) are in the picture, beside the forward
    assert op_labels(draw_graph(penalty, params)) == Counter(
        {"matmul": 2, "mul": 3, "tanh": 1, "sub": 1, "sum": 1}
    )
