"""draw_graph with module_scopes: one CNN training step drawn with each layer's ops in a box (a Graphviz
cluster) labelled with the layer's name, and `tensorgrad draw --model cnn` writing it."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import nn
from tensorgrad.cli.draw import cnn_training_step_graph, mlp_training_step_graph
from tensorgrad.viz import draw_graph, module_scopes

CLUSTER = re.compile(r"^\tsubgraph (cluster_\d+) \{\n((?:\t\t.*\n)*?)\t\}\n", re.MULTILINE)
MEMBER = re.compile(r"^\t\t(\w+) \[label=(.*?) (?:color|fillcolor|shape)=.*$", re.MULTILINE)
STATEMENT = re.compile(r'label="?([^"\n]*?)"? style=rounded$', re.MULTILINE)


def clusters(source: str) -> dict:
    """cluster label -> the labels of the nodes inside it (op descriptions, tensor labels), from DOT."""
    found = {}
    for _, body in CLUSTER.findall(source):
        (label,) = STATEMENT.findall(body.splitlines()[0])
        found[label] = [text.strip('"') for _, text in MEMBER.findall(body)]
    return found


@pytest.fixture(scope="module")
def cnn_step():
    return cnn_training_step_graph()


def test_each_layer_of_a_cnn_step_is_one_box_with_its_ops_and_parameters(cnn_step):
    loss, params, scopes = cnn_step
    boxes = clusters(draw_graph(loss, params, scopes=scopes).source)
    layers = ["Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU"] * 2 + [
        "Conv2d",
        "BatchNorm2d",
        "ReLU",
        "Flatten",
        "Linear",
        "ReLU",
        "Dropout",
        "Linear",
    ]
    assert list(boxes) == [f"{index}: {layer}" for index, layer in enumerate(layers)]
    ops = {label: [m for m in members if not m.startswith("<")] for label, members in boxes.items()}
    assert ops["0: Conv2d"] == ops["4: Conv2d"] == ops["8: Conv2d"] == ["conv2d 3x3, pad 1"]
    assert (
        ops["2: BatchNorm2d"]
        == ops["6: BatchNorm2d"]
        == ops["9: BatchNorm2d"]
        == ["batch_normalize (eps=1e-05)"]
    )
    assert ops["3: ReLU"] == ops["7: ReLU"] == ops["10: ReLU"] == ops["13: ReLU"] == ["relu"]
    assert ops["1: MaxPool2d"] == ops["5: MaxPool2d"] == ["max_pool2d 2x2, stride 2"]
    assert ops["11: Flatten"] == ["reshape(8, -1)"]
    assert ops["12: Linear"] == ops["15: Linear"] == ["linear"]
    assert ops["14: Dropout"] == ["mul"]
    # each box holds its op's result, and its parameters (which the L2 penalty, outside, reads too)
    assert "<(8, 32, 28, 28) float32>" in boxes["0: Conv2d"]
    assert "<<b>0.weight</b><br/>(32, 1, 3, 3) float32>" in boxes["0: Conv2d"]
    assert "<<b>6.bias</b><br/>(64,) float32>" in boxes["6: BatchNorm2d"]
    assert any("dropout mask" in member for member in boxes["14: Dropout"])
    # the loss, the penalty and the images stay outside every box
    inside = {member for members in boxes.values() for member in members}
    source = draw_graph(loss, params, scopes=scopes).source
    assert "cross_entropy(mean)" in source and "cross_entropy(mean)" not in inside
    assert not any(member.startswith("l2_penalty") or "(8, 1, 28, 28)" in member for member in inside)


def test_the_boxes_are_graphviz_clusters_holding_their_nodes(cnn_step):
    loss, params, scopes = cnn_step
    layout = json.loads(draw_graph(loss, params, scopes=scopes).pipe(format="json"))
    objects = layout["objects"]
    boxes = {o["label"]: {objects[i]["label"] for i in o.get("nodes", ())} for o in objects if "nodes" in o}
    assert len(boxes) == 16
    assert "conv2d 3x3, pad 1" in boxes["4: Conv2d"] and "relu" in boxes["7: ReLU"]


def test_ops_are_claimed_by_the_innermost_module_and_the_forwards_are_restored():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(3, 3, rng=0)

        def forward(self, x):
            return self.linear(x).tanh() * 2  # tanh and mul are the block's own

    model = nn.Sequential(Block(), nn.ReLU())
    weight = model[0].linear.weight
    before = weight * 1  # recorded before the forward: belongs to no module, although the block reads it
    with module_scopes(model) as scopes:
        out = model(tg.tensor(np.ones((2, 3), np.float32))) + before.sum()
    assert all("forward" not in vars(module) for module in model.modules())
    labels, stack, seen = [], [out._node], set()
    while stack:
        op = stack.pop()
        if id(op) not in seen:
            seen.add(id(op))
            labels.append((op.describe(), str(scopes.of_op(op))))
            stack.extend(t._node for t in op.inputs if t._node is not None)
    assert sorted(labels) == [
        ("add", "None"),
        ("linear", "0.linear: Linear"),
        ("mul", "0: Block"),  # the block's `* 2`
        ("mul", "None"),  # `before`
        ("relu", "1: ReLU"),
        ("sum", "None"),
        ("tanh", "0: Block"),
    ]
    assert scopes.of_parameter(weight) == "0.linear: Linear"


def test_without_scopes_the_mlp_drawing_has_no_boxes():
    loss, params = mlp_training_step_graph()
    assert "subgraph" not in draw_graph(loss, params).source


def test_the_draw_command_draws_a_cnn_step_as_a_png(tmp_path):
    out = tmp_path / "cnn.png"
    dot_out = tmp_path / "cnn.dot"
    for path in (out, dot_out):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "tensorgrad.cli.draw",
                "--model",
                "cnn",
                "--batch-size",
                "4",
                "--out",
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == str(path)
    assert out.read_bytes().startswith(b"\x89PNG")
    assert list(clusters(dot_out.read_text()))[:2] == ["0: Conv2d", "1: MaxPool2d"]
