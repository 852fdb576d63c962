"""Benchmark instance and BKS readers: tiny hand-written files, then the real ../shared data."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest

from twin.bench.instances import (
    BKS,
    InstanceFormatError,
    discover,
    read_bks,
    read_instance,
)
from twin.errors import TwinError
from twin.maps import shared_dir

# ---------------------------------------------------------------------------- tiny files

SOLOMON = """\
TINY1

VEHICLE
NUMBER     CAPACITY
  3         50

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      10         20          0          0        500          0
    1      12         25          5         30         90         10
    2       4          8          7        100        200         10
    3      15.5        1          3          0        480         10
"""

LILIM = """\
4\t100\t1
0\t0\t0\t0\t0\t1000\t0\t0\t0
1\t1\t2\t10\t0\t500\t5\t0\t3
2\t3\t4\t-20\t50\t600\t5\t4\t0
3\t5\t6\t-10\t70\t700\t5\t1\t0
4\t7\t8\t20\t0\t400\t5\t0\t2
"""

# Depot is node 3 in the file, the matrix wraps across lines arbitrarily, no VEHICLES.
VRPLIB_EXPLICIT = """\
NAME : tiny-explicit
TYPE : VRPTW
DIMENSION : 3
EDGE_WEIGHT_TYPE : EXPLICIT
EDGE_WEIGHT_FORMAT: FULL_MATRIX
CAPACITY : 30
EDGE_WEIGHT_SECTION
0 12 13 21
0 23
31 32
0
NODE_COORD_SECTION
1\t10\t11
2\t20\t21
3\t30\t31
DEMAND_SECTION
1 4
2 6
3 0
DEPOT_SECTION
3
-1
SERVICE_TIME_SECTION
1 60
2 90
3 0
TIME_WINDOW_SECTION
1 100 200
2 150 250
3 0 1000
EOF
"""

VRPLIB_EUC = """\
NAME : tiny-euc
TYPE : CVRPTW
DIMENSION : 3
VEHICLES : 2
CAPACITY : 10
SERVICE_TIME : 90
EDGE_WEIGHT_TYPE : EUC_2D
NODE_COORD_SECTION
1 0 0
2 3 4
3 6 8
DEMAND_SECTION
1 0
2 1
3 2
DEPOT_SECTION
1
-1
EOF
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_solomon_tiny(tmp_path: Path):
    inst = read_instance(write(tmp_path, "TINY1.txt", SOLOMON))
    assert (inst.name, inst.format, inst.capacity, inst.n_vehicles) == ("TINY1", "solomon", 50, 3)
    np.testing.assert_array_equal(inst.coords, [[10, 20], [12, 25], [4, 8], [15.5, 1]])
    np.testing.assert_array_equal(inst.demand, [0, 5, 7, 3])
    np.testing.assert_array_equal(inst.ready, [0, 30, 100, 0])
    np.testing.assert_array_equal(inst.due, [500, 90, 200, 480])
    np.testing.assert_array_equal(inst.service, [0, 10, 10, 10])
    assert inst.pairs == ()
    assert inst.matrix is None


def test_format_comes_from_content_not_extension_and_crlf_is_fine(tmp_path: Path):
    inst = read_instance(write(tmp_path, "tiny.dat", SOLOMON.replace("\n", "\r\n")))
    assert inst.format == "solomon"
    assert inst.name == "tiny"
    assert read_instance(write(tmp_path, "euc.txt", VRPLIB_EUC)).format == "vrplib"
    assert read_instance(write(tmp_path, "pd.vrp", LILIM)).format == "lilim"


def test_arrays_are_read_only(tmp_path: Path):
    inst = read_instance(write(tmp_path, "TINY1.txt", SOLOMON))
    with pytest.raises(ValueError, match="read-only"):
        inst.demand[1] = 99.0


def test_lilim_tiny_pairs(tmp_path: Path):
    inst = read_instance(write(tmp_path, "lpd1.txt", LILIM))
    assert (inst.format, inst.capacity, inst.n_vehicles) == ("lilim", 100, 4)
    assert inst.pairs == ((1, 3), (4, 2))
    np.testing.assert_array_equal(inst.demand, [0, 10, -20, -10, 20])
    np.testing.assert_array_equal(inst.service, [0, 5, 5, 5, 5])
    np.testing.assert_array_equal(inst.due, [1000, 500, 600, 700, 400])


def test_vrplib_explicit_reindexes_depot_to_zero(tmp_path: Path):
    inst = read_instance(write(tmp_path, "tiny-explicit.txt", VRPLIB_EXPLICIT))
    assert inst.format == "vrplib"
    assert inst.n_vehicles == 2  # no VEHICLES: n - 1
    assert inst.capacity == 30
    # File order 1, 2, 3 with depot 3 becomes 3, 1, 2.
    np.testing.assert_array_equal(inst.coords, [[30, 31], [10, 11], [20, 21]])
    np.testing.assert_array_equal(inst.demand, [0, 4, 6])
    np.testing.assert_array_equal(inst.service, [0, 60, 90])
    np.testing.assert_array_equal(inst.ready, [0, 100, 150])
    np.testing.assert_array_equal(inst.due, [1000, 200, 250])
    assert inst.matrix is not None
    # file matrix rows: 1 -> (0, 12, 13), 2 -> (21, 0, 23), 3 -> (31, 32, 0)
    np.testing.assert_array_equal(inst.matrix, [[0, 31, 32], [13, 0, 12], [23, 21, 0]])


def test_vrplib_euclidean_scalar_service_and_no_windows(tmp_path: Path):
    inst = read_instance(write(tmp_path, "tiny-euc.vrp", VRPLIB_EUC))
    assert inst.matrix is None
    assert inst.n_vehicles == 2
    np.testing.assert_array_equal(inst.service, [0, 90, 90])  # the depot has no service
    np.testing.assert_array_equal(inst.ready, [0, 0, 0])
    assert np.all(np.isinf(inst.due))


def test_vrplib_lower_row_matrix_is_symmetric(tmp_path: Path):
    text = (
        "NAME : tri\nDIMENSION : 4\nCAPACITY : 5\nEDGE_WEIGHT_TYPE : EXPLICIT\n"
        "EDGE_WEIGHT_FORMAT : LOWER_ROW\nEDGE_WEIGHT_SECTION\n1\n2 3\n4 5 6\n"
        "DEMAND_SECTION\n1 0\n2 1\n3 1\n4 1\nDEPOT_SECTION\n 1\n -1\nEOF\n"
    )
    inst = read_instance(write(tmp_path, "tri.vrp", text))
    assert inst.matrix is not None
    np.testing.assert_array_equal(
        inst.matrix, [[0, 1, 2, 4], [1, 0, 3, 5], [2, 3, 0, 6], [4, 5, 6, 0]]
    )
    assert np.isnan(inst.coords).all()  # no coordinates in the file


# Each malformed file: (file name, text, the message expected, as a regex).
MALFORMED = {
    "short row": (
        "C101.txt",
        SOLOMON.replace(
            "    2       4          8          7        100        200         10",
            "    2       4          8          7        100",
        ),
        r"^C101\.txt line 12: expected 7 numbers \(id x y demand ready due service\), got 5$",
    ),
    "not a number": (
        "C101.txt",
        SOLOMON.replace("15.5", "15,5"),
        r"^C101\.txt line 13: expected 7 numbers .*got '15,5'$",
    ),
    "missing VEHICLE block values": (
        "C101.txt",
        SOLOMON.replace("  3         50\n", "  3\n"),
        r"^C101\.txt line 5: expected 2 numbers \(vehicle number, capacity\), got 1$",
    ),
    "duplicate customer": (
        "C101.txt",
        SOLOMON.replace("    3      15.5", "    2      15.5"),
        r"^C101\.txt line 13: node id 2 appears twice",
    ),
    "lilim sibling not named back": (
        "lc1.txt",
        LILIM.replace("3\t5\t6\t-10\t70\t700\t5\t1\t0", "3\t5\t6\t-10\t70\t700\t5\t4\t0"),
        r"^lc1\.txt line 3: node 1 names delivery 3, but node 3 \(line 5\)",
    ),
    "id not a whole number": (
        "C101.txt",
        SOLOMON.replace("    3      15.5", "  nan      15.5"),
        r"^C101\.txt line 13: expected a node id from 0 to 3 \(customer\), got nan$",
    ),
    "lilim sibling out of range": (
        "lc1.txt",
        LILIM.replace("\t0\t3\n", "\t0\t1e30\n"),
        r"^lc1\.txt line 3: expected sibling node ids from 0 to 4$",
    ),
    "lilim row too long": (
        "lc1.txt",
        LILIM.replace("4\t7\t8\t20", "4\t7\t8\t20\t1"),
        r"^lc1\.txt line 6: expected 9 numbers \(id x y demand .*\), got 10$",
    ),
    "matrix too short": (
        "o.txt",
        VRPLIB_EXPLICIT.replace("31 32\n0\n", "31 32\n"),
        r"^o\.txt line 7: expected 9 numbers \(3 x 3 FULL_MATRIX\), got 8$",
    ),
    "matrix token": (
        "o.txt",
        VRPLIB_EXPLICIT.replace("0 23", "0 x23"),
        r"^o\.txt line 9: expected a number .*got 'x23'$",
    ),
    "missing demand row": (
        "o.vrp",
        VRPLIB_EUC.replace("3 2\nDEPOT", "DEPOT"),
        r"^o\.vrp line 12: expected 3 rows \(id demand\) after DEMAND_SECTION, got 2$",
    ),
    "node id out of range": (
        "o.vrp",
        VRPLIB_EUC.replace("3 6 8", "4 6 8"),
        r"^o\.vrp line 11: expected a node id from 1 to 3 \(NODE_COORD_SECTION\), got 4$",
    ),
    "depot not terminated": (
        "o.vrp",
        VRPLIB_EUC.replace("-1\n", ""),
        r"^o\.vrp line 16: expected the DEPOT_SECTION to end with -1$",
    ),
    "two depots": (
        "o.vrp",
        VRPLIB_EUC.replace("1\n-1\n", "1\n2\n-1\n"),
        r"^o\.vrp line 19: expected exactly one depot before -1, got 2$",
    ),
    "bad dimension": (
        "o.vrp",
        VRPLIB_EUC.replace("DIMENSION : 3", "DIMENSION : three"),
        r"^o\.vrp line 3: expected a whole number after 'DIMENSION :', got 'three'$",
    ),
    "stray text": (
        "o.vrp",
        VRPLIB_EUC.replace("2 3 4\n", "2 3 4\nhello there\n"),
        r"^o\.vrp line 11: expected 'KEY : value', a \*_SECTION header or EOF",
    ),
    "not an instance": (
        "notes.txt",
        "just some notes\nabout routing\n",
        r"^notes\.txt: not a Solomon .* instance$",
    ),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_malformed_file_names_file_line_and_expectation(tmp_path: Path, case: str):
    name, text, message = MALFORMED[case]
    with pytest.raises(ValueError, match=message) as info:
        read_instance(write(tmp_path, name, text))
    assert isinstance(info.value, InstanceFormatError)
    assert isinstance(info.value, TwinError)


def test_read_bks_columns_as_present(tmp_path: Path):
    path = write(
        tmp_path,
        "bks.csv",
        "instance,vehicles,distance,source,dimacs_vehicles,dimacs_distance\n"
        'A1,10,828.94,"a, quoted source",10,827.3\n'
        "A2,,,,9,\n"
        "\n"
        "A3,7,1.5\n",
    )
    table = read_bks(path)
    assert table["A1"] == BKS("A1", 10, 828.94, 10, 827.3, None)
    assert table["A2"] == BKS("A2", None, None, 9, None, None)
    assert table["A3"] == BKS("A3", 7, 1.5, None, None, None)


def test_read_bks_ortec_style(tmp_path: Path):
    path = write(
        tmp_path,
        "bks.csv",
        "instance,customers,vehicles_used,cost,static_time_limit_s,source\n"
        "ORTEC-x-n2-k1.txt,2,1,1234,300,team\n",
    )
    assert read_bks(path) == {"ORTEC-x-n2-k1": BKS("ORTEC-x-n2-k1", 1, None, None, None, 1234.0)}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,vehicles\nA1,3\n", r"^bks\.csv line 1: expected a header with an 'instance'"),
        ("instance,vehicles\nA1,3\nA2,3.5\n", r"^bks\.csv line 3: expected a whole number in"),
        ("instance,distance\nA1,12\na1,13\n", r"^bks\.csv line 3: instance 'a1' already listed"),
        ("instance,distance\nA1,1,2\n", r"^bks\.csv line 2: expected 2 cells, got 3$"),
    ],
)
def test_read_bks_malformed(tmp_path: Path, text: str, message: str):
    with pytest.raises(ValueError, match=message):
        read_bks(write(tmp_path, "bks.csv", text))


def test_discover_tiny_tree(tmp_path: Path):
    fam = tmp_path / "fam"
    write(fam, "txt/TINY1.txt", SOLOMON)
    write(fam, "txt/TINY2.TXT", SOLOMON)
    write(fam, "txt/TINY10.txt", SOLOMON)
    write(fam, "vrplib/TINY1.vrp", VRPLIB_EUC)  # the same instance: the txt wins
    write(fam, "vrplib/TINY1.sol", "Route #1: 1 2\nCost 3\n")
    write(fam, "sintef_solutions/TINY3.txt", SOLOMON)  # would parse, but is a solution folder
    write(fam, "README.txt", "NAME : readme\nDIMENSION : 3\n")
    write(fam, "notes.txt", "nothing to see\nhere\n")
    write(fam, "bks.csv", "instance,vehicles,distance\ntiny1,2,10.5\nTINY10,3,11\n")
    write(tmp_path, "other/pd1.txt", LILIM)

    refs = discover(tmp_path)
    assert [(r.family, r.name) for r in refs] == [
        ("fam", "TINY1"),
        ("fam", "TINY2"),
        ("fam", "TINY10"),
        ("other", "pd1"),
    ]
    assert refs[0].path == fam / "txt" / "TINY1.txt"
    assert refs[0].bks == BKS("tiny1", 2, 10.5, None, None, None)  # case-insensitive match
    assert refs[1].bks is None
    assert refs[2].bks is not None
    assert refs[2].bks.vehicles == 3
    assert refs[3].bks is None
    assert [r.family for r in discover(fam)] == ["fam"] * 3


def test_discover_finds_bks_above_the_folder_and_names_size_families(tmp_path: Path):
    write(tmp_path, "gh/200/txt/X1_2_1.txt", SOLOMON)
    write(tmp_path, "gh/200/txt/X1_2_10.txt", SOLOMON)
    write(tmp_path, "gh/200/txt/X1_2_2.txt", SOLOMON)
    write(tmp_path, "gh/bks.csv", "instance,vehicles,distance\nX1_2_10,3,99\n")
    refs = discover(tmp_path / "gh" / "200" / "txt")
    assert [r.name for r in refs] == ["X1_2_1", "X1_2_2", "X1_2_10"]
    assert {r.family for r in refs} == {"gh/200"}
    assert refs[2].bks == BKS("X1_2_10", 3, 99.0, None, None, None)
    assert refs[0].bks is None
    # more than three levels above the folder is not searched
    write(tmp_path, "a/b/c/d/e/P1.txt", SOLOMON)
    write(tmp_path, "a/bks.csv", "instance,vehicles\nP1,1\n")
    assert discover(tmp_path / "a" / "b" / "c" / "d" / "e")[0].bks is None
    assert discover(tmp_path / "a" / "b" / "c" / "d")[0].bks is not None


def test_discover_rejects_a_file(tmp_path: Path):
    with pytest.raises(NotADirectoryError):
        discover(write(tmp_path, "TINY1.txt", SOLOMON))


# ---------------------------------------------------------------------------- ../shared data


@pytest.fixture(scope="module")
def benchmarks() -> Path:
    shared = shared_dir()
    folder = None if shared is None else shared / "benchmarks"
    if folder is None or not folder.is_dir():
        pytest.skip("../shared/benchmarks (public routing benchmarks) is not beside the repository")
    return folder


@pytest.mark.shared
def test_c101_solomon_txt(benchmarks: Path):
    inst = read_instance(benchmarks / "solomon" / "txt" / "C101.txt")
    assert (inst.name, inst.format) == ("C101", "solomon")
    assert len(inst.coords) == 101
    np.testing.assert_array_equal(inst.coords[0], [40, 50])
    assert (inst.capacity, inst.n_vehicles) == (200, 25)
    assert inst.due[0] == 1236
    # "1      45         68         10        912        967         90"
    customer = (*inst.coords[1], inst.demand[1], inst.ready[1], inst.due[1], inst.service[1])
    assert customer == (45, 68, 10, 912, 967, 90)


@pytest.mark.shared
@pytest.mark.parametrize(
    ("family", "names"),
    [
        ("solomon", ["C101", "R211", "RC207"]),
        ("gehring_homberger/200", ["C1_2_1", "RC2_2_10"]),
        ("gehring_homberger/400", ["C1_4_1", "RC2_4_10"]),
    ],
)
def test_solomon_txt_and_vrplib_agree(benchmarks: Path, family: str, names: list[str]):
    for name in names:
        txt = read_instance(benchmarks / family / "txt" / f"{name}.txt")
        vrp = read_instance(benchmarks / family / "vrplib" / f"{name}.vrp")
        assert (txt.format, vrp.format) == ("solomon", "vrplib")
        assert txt.name == vrp.name == name  # G&H title lines are lower case; the file name is not
        for field in ("coords", "demand", "ready", "due", "service"):
            np.testing.assert_array_equal(getattr(txt, field), getattr(vrp, field), err_msg=field)
        assert (txt.capacity, txt.n_vehicles) == (vrp.capacity, vrp.n_vehicles)


@pytest.mark.shared
def test_lc101_pairs(benchmarks: Path):
    inst = read_instance(benchmarks / "li_lim" / "100" / "txt" / "lc101.txt")
    assert inst.format == "lilim"
    assert len(inst.coords) == 107  # depot + 106 tasks
    assert len(inst.pairs) == 53
    assert (inst.capacity, inst.n_vehicles) == (200, 25)
    nodes = [node for pair in inst.pairs for node in pair]
    assert sorted(nodes) == list(range(1, 107))  # every task in exactly one pair
    for pickup, delivery in inst.pairs:
        assert inst.demand[pickup] > 0
        assert inst.demand[delivery] == -inst.demand[pickup]
    assert (3, 75) in inst.pairs  # "3 42 66 10 65 146 90 0 75"


@pytest.mark.shared
def test_largest_ortec_instance(benchmarks: Path):
    files = sorted((benchmarks / "euro_neurips_2022" / "instances").glob("*.txt"))
    largest = max(files, key=lambda p: p.stat().st_size)
    start = time.perf_counter()
    inst = read_instance(largest)
    elapsed = time.perf_counter() - start
    match = re.search(r"-n(\d+)-k(\d+)$", inst.name)
    assert match is not None
    n = int(match.group(1)) + 1
    assert inst.format == "vrplib"
    assert inst.matrix is not None
    assert inst.matrix.shape == (n, n)
    assert inst.coords.shape == (n, 2)
    np.testing.assert_array_equal(np.diag(inst.matrix), 0)
    assert not np.array_equal(inst.matrix, inst.matrix.T)  # durations are asymmetric
    assert inst.n_vehicles == int(match.group(2))
    assert (inst.demand[0], inst.service[0], inst.ready[0]) == (0, 0, 0)
    assert elapsed < 1.0, f"{largest.name} took {elapsed:.2f} s"


@pytest.mark.shared
def test_discover_solomon(benchmarks: Path):
    refs = discover(benchmarks / "solomon")
    assert len(refs) == 43
    assert len({r.name for r in refs}) == 43
    assert all(r.path.suffix == ".txt" and r.path.parent.name == "txt" for r in refs)
    assert {r.family for r in refs} == {"solomon"}
    assert [r.name for r in refs[:4]] == ["C101", "C102", "C103", "C105"]
    classes = [r.name[:-2] for r in refs]  # C101 -> C1
    assert classes == sorted(classes, key=["C1", "C2", "R1", "R2", "RC1", "RC2"].index)
    for ref in refs:
        assert ref.bks is not None
        assert ref.bks.vehicles is not None
        assert ref.bks.distance is not None
        assert ref.bks.dimacs_vehicles is not None
        assert ref.bks.dimacs_distance is not None


@pytest.mark.shared
def test_bks_c101(benchmarks: Path):
    table = read_bks(benchmarks / "solomon" / "bks.csv")
    assert table["C101"] == BKS("C101", 10, 828.94, 10, 827.3, None)
    assert table["R201"].vehicles == 4
    assert table["R201"].dimacs_vehicles == 8


@pytest.mark.shared
def test_bks_ortec_names_match_instances(benchmarks: Path):
    refs = discover(benchmarks / "euro_neurips_2022")
    assert len(refs) == 75
    assert all(r.bks is not None and r.bks.cost is not None for r in refs)
    assert all(r.bks is not None and r.bks.distance is None for r in refs)


@pytest.mark.shared
def test_discover_gehring_homberger_size_folder_uses_parent_bks(benchmarks: Path):
    refs = discover(benchmarks / "gehring_homberger" / "200")
    assert len(refs) == 48
    assert {r.family for r in refs} == {"gehring_homberger/200"}
    assert all(r.bks is not None and r.bks.dimacs_distance is not None for r in refs)
    names = [r.name for r in refs]
    assert names.index("C1_2_2") < names.index("C1_2_10")
    assert refs[0].name == "C1_2_1"
    assert refs[0].bks == BKS("C1_2_1", 20, 2704.5678, 20, 2698.6, None)


@pytest.mark.shared
def test_discover_everything_reads(benchmarks: Path):
    refs = discover(benchmarks)
    families = {r.family for r in refs}
    assert families == {
        "euro_neurips_2022",
        "gehring_homberger/200",
        "gehring_homberger/400",
        "li_lim/100",
        "solomon",
    }
    assert len({r.name.lower() for r in refs}) == len(refs)
    assert all(r.bks is not None for r in refs)
    for ref in refs:
        inst = read_instance(ref.path)
        assert inst.name == ref.name
        assert inst.due[0] >= inst.due.max()  # the depot closes last
