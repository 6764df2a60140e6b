"""Connected components on real Spark, against a pure-Python union-find."""

from __future__ import annotations

import hashlib
import random

import pytest
from pyspark.sql import types as T

from curation.spark.components import connected_components

STR_EDGE = T.StructType([T.StructField("src", T.StringType()), T.StructField("dst", T.StringType())])
LONG_EDGE = T.StructType([T.StructField("src", T.LongType()), T.StructField("dst", T.LongType())])


def reference(edges) -> dict:
    """node -> smallest node of its component, by union-find (rows with a None endpoint are no edge)."""
    parent: dict = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        if a is None or b is None:
            continue
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)  # the root is always the smallest member
    return {x: find(x) for x in parent}


def doc_id(i: int) -> str:
    """A document-like id ('a3f…' hex), so the id order is unrelated to the order the graph was built in."""
    return hashlib.sha1(str(i).encode()).hexdigest()[:16]


def labels_of(result) -> dict:
    rows = result.labels.collect()
    labels = {r["node"]: r["component"] for r in rows}
    assert len(labels) == len(rows), "one row per node"
    return labels


def run(spark, edges, schema=STR_EDGE, **kw):
    return connected_components(spark.createDataFrame(edges, schema), **kw)


def random_graph(n: int, m: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(doc_id(rng.randrange(n)), doc_id(rng.randrange(n))) for _ in range(m)]


def undirected(edges) -> int:
    return len({frozenset(e) for e in edges if None not in e and e[0] != e[1]})


def test_random_graphs_match_union_find(spark):
    # Four densities around the giant-component threshold (m = n/2), run as one disjoint union with ids
    # namespaced per graph: at this size Spark's cost is per round, not per edge.
    graphs = {
        "sparse": random_graph(300, 60, seed=1),
        "below-threshold": random_graph(300, 150, seed=2),
        "giant-forming": random_graph(300, 300, seed=3),
        "dense": random_graph(300, 1200, seed=4),
    }
    edges = [(f"{name}:{a}", f"{name}:{b}") for name, g in graphs.items() for a, b in g]
    result = run(spark, edges)
    labels = labels_of(result)
    for name, g in graphs.items():
        mine = {k.split(":", 1)[1]: v.split(":", 1)[1] for k, v in labels.items() if k.startswith(f"{name}:")}
        assert mine == reference(g), name
    assert result.edges_in == undirected(edges)


def test_long_path_in_random_id_order_converges_in_few_rounds(spark):
    n = 200
    ids = [doc_id(i) for i in range(n)]
    random.Random(7).shuffle(ids)
    edges = list(zip(ids, ids[1:], strict=False))
    result = run(spark, edges)
    labels = labels_of(result)
    assert labels == reference(edges)
    assert set(labels.values()) == {min(ids)}
    assert result.edges_in == n - 1
    # Label propagation would need ~n rounds; large/small-star needs O(log² n).
    assert 1 <= result.iterations <= 20


def test_stars_and_cliques(spark):
    rng = random.Random(11)
    ids = [doc_id(i) for i in range(110)]
    rng.shuffle(ids)
    hub, leaves = ids[0], ids[1:50]  # a star whose centre is (almost surely) not its minimum
    cliques = [ids[50:55], ids[55:67], ids[67:68], ids[68:90], ids[90:110]]
    edges = [(hub, x) for x in leaves]
    edges += [("zzz", f"y{i:02d}") for i in range(20)]  # centre above all its leaves
    edges += [(a, b) for c in cliques for a in c for b in c if a < b]
    edges.append((ids[67], ids[67]))  # a one-node clique exists only through its self-loop
    result = run(spark, edges)
    labels = labels_of(result)
    assert labels == reference(edges)
    assert {labels[x] for x in leaves} == {min(ids[:50])}
    assert {labels[x] for c in cliques for x in c} == {min(c) for c in cliques}
    assert result.edges_in == undirected(edges)


def test_messy_input(spark):
    # Duplicates, both directions, self-loops, null endpoints.
    edges = [
        ("b", "a"),
        ("a", "b"),
        ("a", "b"),
        ("c", "b"),
        ("c", "c"),  # self-loop on a node that also has real edges: labelled by its component
        ("s", "s"),  # self-loop only: its own component
        ("s", "s"),
        ("x", None),  # null endpoint: dropped, so "x" is no node
        (None, "y"),
        (None, None),
        ("e", "d"),
        ("d", "e"),
    ]
    # Column names that need quoting, and a column that is no endpoint.
    df = spark.createDataFrame([(a, b, 1) for a, b in edges], "`left.id` string, `right id` string, w int")
    result = connected_components(df, "left.id", "right id")
    labels = labels_of(result)
    assert labels == {"a": "a", "b": "a", "c": "a", "s": "s", "d": "d", "e": "d"}
    assert labels == reference(edges)
    assert result.edges_in == 3  # a-b, b-c, d-e


def test_long_ids_keep_their_type(spark):
    rng = random.Random(5)
    pool = [rng.randrange(-(2**62), 2**62) for _ in range(200)]
    edges = [(rng.choice(pool), rng.choice(pool)) for _ in range(220)]
    result = run(spark, edges, LONG_EDGE)
    assert labels_of(result) == reference(edges)
    assert [f.dataType for f in result.labels.schema] == [T.LongType(), T.LongType()]
    assert result.labels.columns == ["node", "component"]


def test_inputs_with_nothing_to_do(spark):
    empty = run(spark, [])
    assert empty.labels.count() == 0 and empty.iterations == 0 and empty.edges_in == 0
    loops = run(spark, [("q", "q"), ("p", "p")])
    assert labels_of(loops) == {"q": "q", "p": "p"} and loops.edges_in == 0
    star = run(spark, [("a0", f"b{i}") for i in range(9)])  # already a star on its minimum
    assert star.iterations == 0 and set(labels_of(star).values()) == {"a0"}


def test_labels_do_not_depend_on_partitioning_or_order(spark):
    edges = random_graph(100, 120, seed=21)
    rng = random.Random(3)
    results = []
    for partitions in (1, 3, 16):
        shuffled = edges[:]
        rng.shuffle(shuffled)
        shuffled = [(b, a) if rng.random() < 0.5 else (a, b) for a, b in shuffled]  # directions too
        df = spark.createDataFrame(shuffled, STR_EDGE).repartition(partitions)
        assert df.rdd.getNumPartitions() == partitions
        result = connected_components(df)
        results.append((sorted(result.labels.collect()), result.edges_in))
    assert results[0] == results[1] == results[2]
    assert dict(results[0][0]) == reference(edges)


def test_missing_column(spark):
    df = spark.createDataFrame([("a", "b")], ["u", "v"])
    with pytest.raises(ValueError, match=r"\['src', 'dst'\] not found"):
        connected_components(df)
    with pytest.raises(ValueError, match=r"\['w'\] not found"):
        connected_components(df, "u", "w")
    with pytest.raises(ValueError, match="checkpoint_every must be >= 1"):
        connected_components(df, "u", "v", checkpoint_every=0)


def test_mismatched_types(spark):
    df = spark.createDataFrame([("a", 1)], "src string, dst bigint")
    with pytest.raises(ValueError, match="string.*bigint.*cast"):
        connected_components(df)


def test_too_few_iterations(spark):
    edges = [(i, i + 1) for i in range(50)]
    with pytest.raises(ValueError, match="did not converge in 1 rounds"):
        run(spark, edges, LONG_EDGE, max_iterations=1)


def test_custom_checkpoint_is_called(spark, tmp_path):
    spark.sparkContext.setCheckpointDir(str(tmp_path / "checkpoints"))
    calls = []

    def reliable(df):
        calls.append(df)
        return df.checkpoint(eager=True)

    edges = [(i, i + 1) for i in range(16)][::-1]
    result = run(spark, edges, LONG_EDGE, checkpoint=reliable, checkpoint_every=1)
    assert labels_of(result) == {i: 0 for i in range(17)}
    # The normalized input, each round's result, the labels.
    assert result.iterations >= 2 and len(calls) == result.iterations + 2
    assert any((tmp_path / "checkpoints").iterdir())
