"""Draw the graph behind a tensor with Graphviz: every op, every tensor, and the edges between them."""

from __future__ import annotations

import html
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from .autograd import engine
from .optional import require
from .tensor import Tensor

if TYPE_CHECKING:
    import graphviz

RELEASED_GRAPH_MESSAGE = (
    "draw_graph: the graph behind this tensor was released by backward(), so its ops no longer know their "
    "inputs. Call backward(retain_graph=True) to draw the graph after backward (or draw it before backward)."
)

# What tells the kinds of node apart at a glance: ops are ellipses, tensors are boxes; a leaf that requires
# grad (a parameter) is blue, a constant is grey and dashed, an intermediate result is white, the root green.
_OP_STYLE = {"shape": "ellipse", "style": "filled", "fillcolor": "#fff2c4", "color": "#b8860b"}
_RUN_STYLE = {**_OP_STYLE, "peripheries": "2"}
_LEAF_STYLE = {"shape": "box", "style": "filled", "fillcolor": "#cfe3ff", "color": "#3b6fb6"}
_CONSTANT_STYLE = {
    "shape": "box",
    "style": "filled,dashed",
    "fillcolor": "#f2f2f2",
    "color": "#888888",
    "fontcolor": "#444444",
}
_INTERMEDIATE_STYLE = {"shape": "box", "style": "rounded", "color": "#999999", "fontsize": "9"}
_ROOT_STYLE = {"shape": "box", "style": "filled,bold", "fillcolor": "#c6efc6", "color": "#2e7d32"}
_MAIN_PATH_WEIGHT = "4"
_MORE_STYLE = {"shape": "box", "style": "dashed", "color": "#888888", "fontcolor": "#444444"}
_CLUSTER_STYLE = {"style": "rounded", "color": "#9aa5b1", "fontcolor": "#52606d", "fontsize": "10"}


class ModuleScopes:
    """Which module's forward recorded each op, as `module_scopes` finds it: the label ("0: Conv2d") of the
    innermost module whose forward was running, for the ops of the graph its output depends on."""

    def __init__(self):
        self._ops: dict = {}  # op -> label (the op is the key itself: it stays alive, so no id is reused)
        self._params: dict[int, tuple] = {}  # id(parameter) -> (label, parameter)
        self.labels: list[str] = []  # every submodule's label, in the order of `named_modules`

    def of_op(self, op) -> str | None:
        return self._ops.get(op)

    def of_parameter(self, tensor: Tensor) -> str | None:
        found = self._params.get(id(tensor))
        return found[0] if found is not None else None

    def _claim(self, output, start: int, label: str) -> None:
        """Label the ops recorded after `start` that `output` depends on, but for those an inner module
        labelled already (its forward returned first)."""
        outputs = output if isinstance(output, (tuple, list)) else (output,)
        stack = [t._node for t in outputs if isinstance(t, Tensor) and t._node is not None]
        seen = set()
        while stack:
            op = stack.pop()
            if id(op) in seen or op.released or op.sequence_nr <= start:
                continue  # an op recorded before this forward began, and so every op it depends on
            seen.add(id(op))
            self._ops.setdefault(op, label)
            stack.extend(t._node for t in op.inputs if t._node is not None)


@contextmanager
def module_scopes(model) -> Iterator[ModuleScopes]:
    """Within the block, note which of `model`'s submodules recorded each op; `draw_graph(..., scopes=...)`
    then draws each submodule's ops (and its parameters, and the results of its ops) in one box labelled
    with its name and class, "0: Conv2d".

        with module_scopes(model) as scopes:
            loss = model.loss(images, labels)
        draw_graph(loss, dict(model.named_parameters()), scopes=scopes)

    Every submodule's `forward` is wrapped for the duration of the block (and restored after it). An op
    belongs to the innermost module whose forward recorded it: the ops recorded after that forward began
    (sequence numbers, which the engine hands out in recording order) that its output depends on. That is
    exact for parameter-free layers (ReLU, pooling, dropout), which owning parameters could not tell, and
    for layers whose parameters other code reads too (an L2 penalty on the convolution weights).
    """
    scopes = ModuleScopes()
    wrapped = []
    for name, module in model.named_modules():
        if not name:
            continue  # the model itself: its own ops (a reshape of the input) stay outside any box
        label = f"{name}: {type(module).__name__}"
        scopes.labels.append(label)
        for param in module._parameters.values():
            if param is not None:
                scopes._params[id(param)] = (label, param)
        if "forward" in vars(module):
            continue  # a forward set on the instance already: leave it alone
        original = module.forward

        def forward(*args, _original=original, _label=label, **kwargs):
            start = next(engine._recorded)  # a number below every op the forward records
            output = _original(*args, **kwargs)
            scopes._claim(output, start, _label)
            return output

        object.__setattr__(module, "forward", forward)
        wrapped.append(module)
    try:
        yield scopes
    finally:
        for module in wrapped:
            object.__delattr__(module, "forward")


def draw_graph(
    root: Tensor,
    params=None,
    *,
    show_grad_norm: bool = False,
    rankdir: str = "TB",
    collapse_runs: int | None = 10,
    max_nodes: int | None = 500,
    scopes: ModuleScopes | None = None,
) -> graphviz.Digraph:
    """The computation graph that produced `root`, as a `graphviz.Digraph` (it renders inline in Jupyter).

    Edges run tensor -> op -> output tensor. Ops are yellow ellipses labelled with `Op.describe()`; tensors are
    boxes with their shape and dtype: blue for leaves that require grad, grey dashed for constants, white for
    intermediate results, green for `root`. A tensor is named after `params` (a mapping name -> Tensor, e.g.
    `dict(model.named_parameters())`) or else its own `.name`.

    - `show_grad_norm`: add the L2 norm of `.grad` to the tensors that have one (the leaves, after backward).
    - `rankdir`: "TB" (top to bottom), "LR" (left to right), "BT" or "RL".
    - `collapse_runs`: a chain of at least this many consecutive ops with the same label, each feeding only
      the next, becomes one double-bordered node "tanh ×1000"; unnamed constant inputs of the ops after the
      first (the `2` of `x * 2 * 2 * ...`) are folded into it. None draws every op.
    - `max_nodes`: draw at most this many nodes, those nearest the root; the rest is one "… N more nodes"
      node. None draws everything (Graphviz gets slow beyond a few thousand nodes).
    - `scopes`: from `module_scopes(model)` around the forward: each submodule's ops, the results they
      produce, its parameters and the named leaves only they read (a dropout mask) are drawn in one box
      ("cluster_0", ...) labelled "0: Conv2d"; the rest (the loss) outside.

    The DOT source depends only on the graph's structure and contents: node ids ("n0" for the root, then
    breadth-first) come from the traversal, so two identical expressions give identical `.source`.
    The traversal is iterative, so graphs of any depth can be drawn.

    >>> W = tg.tensor(np.ones((3, 4), np.float32), requires_grad=True)
    >>> loss = (tg.ones(2, 4) @ W.T).relu().sum()
    >>> loss.backward(retain_graph=True)
    >>> dot = draw_graph(loss, {"W": W}, show_grad_norm=True, rankdir="LR")
    >>> dot.render("graph", format="svg")  # or dot.pipe(format="png"), or just `dot` in a notebook
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"draw_graph: root must be a Tensor, not {type(root).__name__}")
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"draw_graph: rankdir must be 'TB', 'LR', 'BT' or 'RL', not {rankdir!r}")
    if collapse_runs is not None and collapse_runs < 2:
        raise ValueError(f"draw_graph: collapse_runs must be at least 2 (or None), not {collapse_runs}")
    if max_nodes is not None and max_nodes < 1:
        raise ValueError(f"draw_graph: max_nodes must be at least 1 (or None), not {max_nodes}")
    graphviz = require("graphviz", "draw_graph")  # imported here: `import tensorgrad` needs NumPy alone

    uses = _count_uses(root)
    param_names = {id(tensor): name for name, tensor in (params or {}).items()}
    dot = graphviz.Digraph(
        "tensorgrad",
        graph_attr={
            "rankdir": rankdir,
            "ordering": "in",
            "nodesep": "0.25",
            "ranksep": "0.3",
            "fontname": "Helvetica",
        },
        node_attr={"fontname": "Helvetica", "fontsize": "11", "height": "0.3", "margin": "0.08,0.04"},
        edge_attr={"color": "#555555", "arrowsize": "0.6"},
    )

    def name_of(tensor: Tensor) -> str | None:
        return param_names.get(id(tensor), tensor.name)

    # Ids are handed out breadth-first from the root, so truncating at `max_nodes` keeps the nodes nearest
    # the root; the traversal still walks the whole graph, to count what it leaves out.
    node_ids: dict[int, str] = {}  # _key(tensor) -> its node id; id() is only a key here, never drawn
    next_index = 0
    hidden_count = 0
    fed_by_hidden: list[str] = []  # drawn nodes with an input that was left out

    def new_node() -> str | None:
        nonlocal next_index, hidden_count
        index = next_index
        next_index += 1
        if max_nodes is not None and index >= max_nodes:
            hidden_count += 1
            return None
        return f"n{index}"

    clusters: dict[str, list] = {}  # label -> the (node id, label, attributes) drawn in its box
    leaf_scopes = _leaf_scopes(root, scopes) if scopes is not None else {}

    def place(node_id: str, label: str, attributes: dict, scope: str | None) -> None:
        if scope is None:
            dot.node(node_id, label, **attributes)
        else:  # written in its box at the end: an edge may name a node before its statement
            clusters.setdefault(scope, []).append((node_id, label, attributes))

    def scope_of(tensor: Tensor) -> str | None:
        if scopes is None or tensor is root:
            return None
        if tensor._node is not None:
            return scopes.of_op(tensor._node)
        if name_of(tensor) is None:
            return None  # unnamed data (the images a layer reads) is its input, not a part of it
        return scopes.of_parameter(tensor) or leaf_scopes.get(_key(tensor))

    def add_tensor(tensor: Tensor) -> str | None:
        node_id = new_node()
        node_ids[_key(tensor)] = node_id
        if node_id is not None:
            label = _tensor_label(tensor, name_of(tensor), show_grad_norm)
            place(node_id, label, _tensor_style(tensor, tensor is root), scope_of(tensor))
        return node_id

    def is_plain_constant(tensor: Tensor) -> bool:
        return tensor._node is None and not tensor._requires_grad and name_of(tensor) is None

    def run_predecessor(op, label: str):
        """The input through which the run of `label` ops continues above `op`, or None where it stops."""
        others = [t for t in op.inputs if not is_plain_constant(t)]
        if len(others) != 1:
            return None
        (previous,) = others
        node = previous._node
        if node is None or uses[_key(previous)] != 1 or name_of(previous) is not None:
            return None
        return previous if node.describe() == label else None

    not_collapsible: set[int] = set()  # ops known to head a run shorter than collapse_runs

    def run_ending_at(op) -> list:
        """The ops of the run that ends with `op`, last first; just [op] when it is too short to collapse."""
        if collapse_runs is None or id(op) in not_collapsible:
            return [op]
        label = op.describe()
        run = [op]
        while (previous := run_predecessor(run[-1], label)) is not None:
            run.append(previous._node)
        if len(run) < collapse_runs:
            # Every op further up this run heads a shorter run still: remember, so the walk stays linear.
            not_collapsible.update(id(o) for o in run)
            return [op]
        return run

    queue = deque([root])
    add_tensor(root)
    while queue:
        output = queue.popleft()
        op = output._node
        if op is None:
            continue
        run = run_ending_at(op)
        op_id = new_node()
        output_id = node_ids[_key(output)]
        if op_id is not None:
            scope = scopes.of_op(op) if scopes is not None else None
            if len(run) == 1:
                place(op_id, graphviz.escape(op.describe()), _OP_STYLE, scope)
            else:
                folded = sum(len(o.inputs) - 1 for o in run[:-1])
                place(op_id, _run_label(op.describe(), len(run), folded), _RUN_STYLE, scope)
            dot.edge(op_id, output_id, weight=_MAIN_PATH_WEIGHT)
        elif output_id is not None:
            fed_by_hidden.append(output_id)  # a drawn tensor whose op was left out
        for tensor in run[-1].inputs:  # the first op of the run takes the run's inputs
            if _key(tensor) in node_ids:
                tensor_id = node_ids[_key(tensor)]
            else:
                tensor_id = add_tensor(tensor)
                queue.append(tensor)
            if op_id is None:
                continue
            if tensor_id is not None:
                # Heavier edges along the flow of intermediate results keep that flow a straight line.
                dot.edge(tensor_id, op_id, weight=_MAIN_PATH_WEIGHT if tensor._node is not None else None)
            elif not fed_by_hidden or fed_by_hidden[-1] != op_id:
                fed_by_hidden.append(op_id)

    if hidden_count:
        dot.node("more", f"… {hidden_count:,} more nodes", **_MORE_STYLE)
        for node_id in fed_by_hidden:
            dot.edge("more", node_id, style="dashed")
    order = {label: index for index, label in enumerate(scopes.labels)} if scopes is not None else {}
    for index, scope in enumerate(sorted(clusters, key=order.__getitem__)):  # in the model's order
        members = clusters[scope]
        with dot.subgraph(name=f"cluster_{index}") as box:
            box.attr(label=scope, **_CLUSTER_STYLE)
            for node_id, label, attributes in members:
                box.node(node_id, label, **attributes)
    return dot


def _leaf_scopes(root: Tensor, scopes: ModuleScopes) -> dict:
    """_key(leaf) -> the scope of the ops that read it, for the leaves that ops of one scope alone read."""
    found: dict[int, set] = {}
    seen, stack = set(), [root._node] if root._node is not None else []
    while stack:
        op = stack.pop()
        for tensor in op.inputs:
            if tensor._node is None:
                found.setdefault(_key(tensor), set()).add(scopes.of_op(op))
            elif id(tensor._node) not in seen:
                seen.add(id(tensor._node))
                stack.append(tensor._node)
    return {
        key: next(iter(owners)) for key, owners in found.items() if len(owners) == 1 and None not in owners
    }


def _key(tensor: Tensor) -> int:
    """What identifies a tensor in the drawing: its op for a result, the tensor itself for a leaf.

    A create_graph backward hands each op's backward a new Tensor around the op's output, so one result can
    have several Tensor objects; keyed by its op, it is drawn once, with its op once.
    """
    node = tensor._node
    return id(tensor) if node is None else id(node)


def _count_uses(root: Tensor) -> dict:
    """_key(tensor) -> how many times the ops behind `root` take it as an input; raises if they were released."""
    uses: dict[int, int] = {}
    seen_ops = set()
    stack = [root._node] if root._node is not None else []
    while stack:
        op = stack.pop()
        if op.released:
            raise RuntimeError(RELEASED_GRAPH_MESSAGE)
        for tensor in op.inputs:
            key = _key(tensor)
            uses[key] = uses.get(key, 0) + 1
            child = tensor._node
            if child is not None and id(child) not in seen_ops:
                seen_ops.add(id(child))
                stack.append(child)
    return uses


def _tensor_style(tensor: Tensor, is_root: bool) -> dict:
    if is_root:
        return _ROOT_STYLE
    if tensor._node is not None:
        return _INTERMEDIATE_STYLE
    return _LEAF_STYLE if tensor._requires_grad else _CONSTANT_STYLE


def _tensor_label(tensor: Tensor, name: str | None, show_grad_norm: bool) -> str:
    """An HTML-like label: the name in bold, then shape and dtype, then the gradient's norm if asked."""
    shape = "scalar" if tensor.ndim == 0 else str(tuple(tensor.shape))
    lines = [f"{shape} {tensor.dtype}"]
    if name is not None:
        lines.insert(0, f"<b>{html.escape(str(name))}</b>")
    if show_grad_norm and tensor.grad is not None:
        lines.append(f'<font point-size="9">grad norm = {format_grad_norm(tensor.grad)}</font>')
    return "<" + "<br/>".join(lines) + ">"


def _run_label(label: str, length: int, folded_constants: int) -> str:
    text = f"{html.escape(label)} ×{length:,}"  # noqa: RUF001 - the multiplication sign is meant
    if folded_constants:
        inputs = "input" if folded_constants == 1 else "inputs"
        text += f'<br/><font point-size="9">{folded_constants:,} constant {inputs} not shown</font>'
    return f"<{text}>"


def format_grad_norm(grad) -> str:
    """The L2 norm of a gradient (Tensor or ndarray) as `draw_graph` shows it, to 4 significant digits."""
    data = grad.data if isinstance(grad, Tensor) else np.asarray(grad)
    return f"{float(np.linalg.norm(data.ravel().astype(np.float64))):.4g}"
