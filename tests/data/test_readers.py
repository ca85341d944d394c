import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from minnow.data.documents import to_document
from minnow.data.readers import read_records
from minnow.errors import InputError


def test_malformed_jsonl_line_is_named_with_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "fine"}\n\n{"text": "broken"\n')
    with pytest.raises(InputError, match=r"bad\.jsonl:3: malformed JSON"):
        list(read_records(path))


def test_non_utf8_bytes_are_named_with_line_and_byte(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("first line\n\ncaf\u00e9 ok\n".encode() + b"na\xefve\n")
    with pytest.raises(InputError, match=r"latin1\.txt:4: not valid UTF-8 \(byte 0xef at column 3\)"):
        list(read_records(path))


def test_text_units_split_files_into_documents(tmp_path):
    path = tmp_path / "play.txt"
    path.write_text("ROMEO:\nhello\n\n\nJULIET:\nhi\n")
    paragraphs = list(read_records(path, "paragraph"))
    assert [r["text"] for r, _ in paragraphs] == ["ROMEO:\nhello\n", "JULIET:\nhi\n"]
    assert [where for _, where in paragraphs] == [f"{path}:1", f"{path}:5"]
    assert len(list(read_records(path, "line"))) == 4
    assert [r["text"] for r, _ in read_records(path, "file")] == ["ROMEO:\nhello\n\n\nJULIET:\nhi\n"]


def test_parquet_rows_keep_their_fields(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(
        pa.Table.from_pylist([{"prompt": "q", "completion": "a"}, {"prompt": "q2", "completion": "a2"}]), path
    )
    records = list(read_records(path))
    assert records[1] == ({"prompt": "q2", "completion": "a2"}, f"{path}:row 2")


def test_unknown_file_type_is_refused(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n")
    with pytest.raises(InputError, match=r"x\.csv: unsupported file type"):
        read_records(path)


@pytest.mark.parametrize(
    "record, text, roles",
    [
        ({"text": "plain"}, "plain", None),
        ({"prompt": "hi", "completion": "hello"}, "hi\nhello", ["user", "assistant"]),
        ({"input": "hi", "output": "blub", "category": "greeting"}, "hi\nblub", ["user", "assistant"]),
        (
            {"messages": [{"role": "system", "content": "be a fish"}, {"role": "user", "content": "hi"}]},
            "be a fish\nhi",
            ["system", "user"],
        ),
    ],
)
def test_record_shapes_become_documents(record, text, roles):
    doc = to_document(record, "src", "f.jsonl:1")
    assert doc.text == text
    assert (None if doc.messages is None else [m["role"] for m in doc.messages]) == roles


def test_record_without_text_names_location_and_keys():
    with pytest.raises(InputError, match=r"f\.jsonl:9: no text found.*keys here: body, title"):
        to_document({"title": "t", "body": "b"}, "src", "f.jsonl:9")
    assert to_document({"title": "t", "body": "b"}, "src", "f.jsonl:9", text_field="body").text == "b"


def test_bad_chat_turn_is_refused():
    with pytest.raises(InputError, match=r"messages\[1\]"):
        to_document({"messages": [{"role": "user", "content": "x"}, {"role": "robot", "content": "y"}]}, "s", "f:1")
