"""Connected components of an edge list, in Spark DataFrame operations only.

The algorithm is the large-star / small-star alternation of Kiveris et al. 2014, "Connected Components in
MapReduce and Beyond". Edges are kept undirected as ``(lo, hi)`` with ``lo < hi``; ``m(u)`` is the smallest
node of ``u``'s neighbourhood, ``u`` included.

- large-star: every node ``u`` re-attaches its *larger* neighbours to ``m(u)`` (edge ``v - u`` becomes
  ``v - m(u)`` for every neighbour ``v > u``);
- small-star: every node ``u`` attaches itself and its *smaller* neighbours to the smallest of them.

Neither step changes which nodes are connected, and neither adds edges, so the data stays linear in the
input. The alternation ends in one star per component, centred on the component's smallest node, after
O(log² n) rounds (Kiveris et al.; 7 for a 200-node path in random id order), whereas min-label propagation
needs a round per hop of the component's diameter (n - 1 rounds for an n-node path).

A round costs two shuffles of the edges: by node (``distinct``, then a window for ``m(u)`` and the
convergence flag) and by the larger endpoint (a window for the small-star's minimum); plus a global count
of the flags, which shuffles one row per partition. Convergence is that aggregation, never a collect: a node
is *unsettled* while it has a smaller neighbour and more than one neighbour; when none is, the graph is a
forest of stars rooted at their minima.

Labels are therefore the minimum node id of each component (Spark's ordering of the id type: byte order for
strings), so they depend only on the edge set, never on partitioning or input order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame


@dataclass(frozen=True)
class Components:
    """What :func:`connected_components` found."""

    labels: DataFrame
    """``node``, ``component`` (both of the input id type): one row per node of any edge, self-loops included;
    ``component`` is the smallest node id of the node's connected component. Cut with the checkpoint function
    (so materialized, by the default)."""
    iterations: int
    """Large-star / small-star rounds run until the graph was a forest of stars (0 if it already was one)."""
    edges_in: int
    """Distinct undirected edges after normalization: endpoints ordered, self-loops and null endpoints dropped."""


def connected_components(
    edges: DataFrame,
    src: str = "src",
    dst: str = "dst",
    *,
    max_iterations: int = 64,
    checkpoint_every: int = 2,
    checkpoint: Callable[[DataFrame], DataFrame] | None = None,
) -> Components:
    """Connected components of the undirected graph whose edges are the ``src`` - ``dst`` rows of ``edges``.

    Ids may be of any orderable Spark type, the same for both columns; ids that compare equal are one node
    (mind non-binary string collations). Duplicate rows, both directions of an edge and self-loops are
    allowed; rows with a null endpoint are dropped (a null is no node, and joins nothing).

    The lineage is cut with ``checkpoint(df)`` (default: ``df.localCheckpoint(eager=True)``) on the normalized
    input, every ``checkpoint_every`` rounds and on the labels. Local checkpoints live on the executors and are
    lost with one; pass e.g. ``lambda df: df.checkpoint(eager=True)`` (after ``setCheckpointDir``) for
    reliable ones. Raises ``ValueError`` if the columns are missing or differ in type, or if the graph has not
    converged after ``max_iterations`` rounds.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    _check_input(edges, src, dst)
    if max_iterations < 0:
        raise ValueError(f"max_iterations must be >= 0, got {max_iterations}")
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be >= 1, got {checkpoint_every}")
    cut = checkpoint or _local_checkpoint

    a, b = F.col(_quote(src)), F.col(_quote(dst))
    # Deduplicated before the cut, with a map-side combine: candidate pairs often repeat (MinHash bands).
    norm = edges.where(a.isNotNull() & b.isNotNull()).select(F.least(a, b).alias("lo"), F.greatest(a, b).alias("hi"))
    # Cut: the input (maybe an expensive scan or join) is read once, for the first round and the self-loops.
    norm = cut(norm.distinct())
    loops = norm.where("lo = hi").select(F.col("lo").alias("node"))
    graph = norm.where("lo < hi")  # (lo, hi) with lo < hi: the edges each round rewrites (duplicates allowed)

    edges_in = None
    prev = nbrs = None
    rounds = 0
    try:
        while True:
            prev, nbrs = nbrs, _neighbourhoods(graph)
            if rounds and rounds % checkpoint_every == 0:
                # Cut every few rounds: the plan, and the recomputation after a lost block, grow with each round.
                nbrs = cut(nbrs)
            else:
                # why persist: the aggregation below builds it and the next round's large-star reads it again.
                nbrs = nbrs.persist(StorageLevel.MEMORY_AND_DISK)
            # An unsettled node's row to its smallest neighbour (m) stands for the node: count nodes, not rows.
            node_row = F.col("unsettled") & (F.col("nbr") == F.col("m"))
            stats = nbrs.agg(F.count(F.lit(1)).alias("rows"), F.count(F.when(node_row, 1)).alias("unsettled")).first()
            if prev is not None:
                prev.unpersist()  # this round is built: the previous one is no longer read
            if edges_in is None:
                edges_in = stats["rows"] // 2  # both directions of each distinct edge
            if stats["unsettled"] == 0:
                break
            if rounds == max_iterations:
                raise ValueError(
                    f"connected components did not converge in {max_iterations} rounds ({stats['unsettled']} "
                    "nodes not yet attached to their component's minimum); raise max_iterations (the rounds "
                    "needed grow as log² of the largest component's size)"
                )
            rounds += 1
            graph = _small_star(_large_star(nbrs))

        # Converged: every node's m is its component's root. A self-loop node labels itself unless an edge
        # puts it in a component (min keeps that component's root, which is smaller or the node itself).
        labels = (
            nbrs.select("node", F.col("m").alias("component"))
            .unionByName(loops.select("node", F.col("node").alias("component")))
            .groupBy("node")
            .agg(F.min("component").alias("component"))
        )
        # Cut: the caller gets materialized labels that outlive the round caches released below.
        labels = cut(labels)
    finally:
        for df in (prev, nbrs):
            if df is not None:
                df.unpersist()
    return Components(labels=labels, iterations=rounds, edges_in=edges_in)


def _neighbourhoods(graph: DataFrame) -> DataFrame:
    """``node, nbr, m, unsettled``: every distinct edge of ``graph`` (``lo, hi``) in both directions;
    ``m`` = min(node, its neighbours), the large-star's target; ``unsettled``: the node has a smaller
    neighbour and more than one neighbour, so it is no leaf of a star rooted at its component's minimum.

    One shuffle: ``distinct`` runs on the partitioning by node that the window needs anyway."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    lo, hi, node = F.col("lo"), F.col("hi"), F.col("node")
    by_node = Window.partitionBy("node")
    # Both directions from one scan: a union of two selects would hold ``graph`` twice, and the plan would
    # double with every round between cuts.
    both = graph.select(
        F.inline(F.array(F.struct(lo.alias("node"), hi.alias("nbr")), F.struct(hi.alias("node"), lo.alias("nbr"))))
    )
    m = F.least(node, F.min("nbr").over(by_node))
    return (
        both.repartition("node")
        .distinct()
        .select("node", "nbr", m.alias("m"), ((m < node) & (F.count(F.lit(1)).over(by_node) > 1)).alias("unsettled"))
    )


def _large_star(nbrs: DataFrame) -> DataFrame:
    """``hi, lo``: every node's larger neighbours (``hi``) attached to its ``m`` (``lo``; ``m <= node < hi``)."""
    return nbrs.where("nbr > node").selectExpr("nbr AS hi", "m AS lo")


def _small_star(star: DataFrame) -> DataFrame:
    """``lo, hi`` with ``lo < hi``: every ``hi`` and its smaller neighbours attached to the smallest of them.

    Duplicates in and out are fine: the min ignores them, and the next round's ``distinct`` drops them
    (each row gives at most two, so they cannot pile up)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    m = F.col("m")
    # Each row (hi, lo) gives (m, lo) and (m, hi); the (m, m) pair is the edge that goes.
    return (
        star.withColumn("m", F.min("lo").over(Window.partitionBy("hi")))
        .select(F.inline(F.array(F.struct(m.alias("lo"), F.col("lo").alias("hi")), F.struct(m.alias("lo"), "hi"))))
        .where("lo <> hi")
    )


def _check_input(edges: DataFrame, src: str, dst: str) -> None:
    missing = [c for c in (src, dst) if c not in edges.columns]
    if missing:
        raise ValueError(f"edge column(s) {missing} not found; the edges have columns {edges.columns}")
    src_type, dst_type = edges.schema[src].dataType, edges.schema[dst].dataType
    if src_type != dst_type:
        raise ValueError(
            f"{src!r} is {src_type.simpleString()} but {dst!r} is {dst_type.simpleString()}; cast both endpoint "
            "columns to one type"
        )


def _quote(name: str) -> str:
    """A column name as a Spark identifier (dots and spaces taken literally)."""
    return "`" + name.replace("`", "``") + "`"


def _local_checkpoint(df: DataFrame) -> DataFrame:
    return df.localCheckpoint(eager=True)
