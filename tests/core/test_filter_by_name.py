from pathlib import Path

from jepa_core.data import filter_by_name

PATHS = [Path("d/Subject00_1.edf"), Path("d/Subject07_2.edf"), Path("T72/HB03.JPG"), Path("BMP2/HB03.JPG")]


def test_default_matches_the_file_name_or_its_stem():
    assert filter_by_name(PATHS, ["Subject0[0-6]_*"]) == [PATHS[0]]
    assert filter_by_name(PATHS, [], ["*.edf"]) == PATHS[2:]
    assert filter_by_name(PATHS, ["HB03"]) == PATHS[2:]  # the name up to its first dot


def test_key_picks_what_the_patterns_see():
    def class_stem(p: Path) -> str:
        return f"{p.parent.name}/{p.stem}"

    assert filter_by_name(PATHS, ["T72/*"], key=class_stem) == [PATHS[2]]
    assert filter_by_name(PATHS, ["d/*"], key=str) == PATHS[:2]
    assert filter_by_name(PATHS, ["d/*"]) == []  # file names alone never contain the folder
