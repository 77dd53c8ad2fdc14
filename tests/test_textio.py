"""Files saved by Chinese Windows tools (GBK/GB18030 "ANSI", UTF-16 "Unicode text", BOMs) load everywhere a
person hands us text; what cannot be read is rejected naming the file and the encoding found."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from slaprobe.config import load_config
from slaprobe.configload import ConfigError
from slaprobe.inventory import InventoryError, load_inventory
from slaprobe.sla.invoice import InvoiceError, load_invoice
from slaprobe.textio import TextEncodingError, decode

TEXT = "vantage: 海口-probe\n"
INVENTORY = (
    "id,name,address,carrier,region,level,tier,in_service_from\n"
    "T1,海口市政府,198.18.0.1,telecom,haikou,city,premium,2022-01-01\n"
    "T2,三亚市吉阳区,198.18.0.2,unicom,sanya,township,basic,2022-03-15\n"
)
ENCODINGS = {
    "utf-8": lambda t: t.encode("utf-8"),
    "utf-8 with BOM": lambda t: codecs.BOM_UTF8 + t.encode("utf-8"),
    "gbk (Excel ANSI)": lambda t: t.encode("gbk"),
    "gb18030": lambda t: t.encode("gb18030"),
    "utf-16 LE with BOM (Excel Unicode text)": lambda t: t.encode("utf-16"),
    "utf-16 BE with BOM": lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be"),
}


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_decode_reads_what_spreadsheets_write(encoding: str) -> None:
    assert decode(ENCODINGS[encoding](INVENTORY)).text == INVENTORY


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("id,名称\n".encode("utf-16-le"), "UTF-16 without a byte-order mark"),
        (codecs.BOM_UTF32_LE + "a".encode("utf-32-le"), "UTF-32"),
        (codecs.BOM_UTF8 + b"\xff\xfe-not-utf8", "UTF-8 BOM"),
        (b"caf\xe9 au lait \x80\x80", "neither UTF-8, UTF-16 with BOM nor GB18030"),
    ],
)
def test_unreadable_text_is_rejected_with_the_encoding_named(data: bytes, message: str) -> None:
    with pytest.raises(TextEncodingError, match=message) as info:
        decode(data, "terminals.csv")
    assert str(info.value).startswith("terminals.csv: ")


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_inventory_loads_in_every_encoding(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "terminals.csv"
    path.write_bytes(ENCODINGS[encoding](INVENTORY))
    inv = load_inventory(path)
    assert [t.name for t in inv] == ["海口市政府", "三亚市吉阳区"]


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_config_loads_in_every_encoding(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "slaprobe.yaml"
    path.write_bytes(ENCODINGS[encoding]("sla: {timezone: Asia/Shanghai}\nstate_dir: /tmp/海口市状态目录\n"))
    assert load_config(path).state_dir == "/tmp/海口市状态目录"


def test_invoice_in_gbk_loads(tmp_path: Path) -> None:
    path = tmp_path / "bill.csv"
    path.write_bytes("carrier,tier,count,amount\ntelecom,premium,3,2880.00\n".encode("gbk"))
    assert load_invoice(path).lines[0].count == 3


@pytest.mark.parametrize(
    ("loader", "error"),
    [(load_inventory, InventoryError), (load_config, ConfigError), (load_invoice, InvoiceError)],
)
def test_utf16_without_bom_is_a_clear_error_not_a_traceback(tmp_path: Path, loader, error) -> None:
    path = tmp_path / "file.csv"
    path.write_bytes(INVENTORY.encode("utf-16-le"))
    with pytest.raises(error) as info:
        loader(path)
    assert str(path) in str(info.value) and "UTF-16 without a byte-order mark" in str(info.value)
