"""The model file: round trip, atomic writes, and every way a file can be bad."""

import io as iolib
import json
import os
import stat
import struct
import time
import zipfile
import zlib

import numpy as np
import pytest

import tripletrec
from tripletrec import io
from tripletrec.io import FORMAT_VERSION, ModelFileError, load_arrays, save_arrays


def sample_arrays():
    rng = np.random.default_rng(0)
    return {
        "user_factors": rng.standard_normal((7, 3)).astype(np.float32),
        "item_biases": rng.standard_normal(5).astype(np.float32),
        "user_ids": np.arange(100, 107, dtype=np.int64),
        "item_ids": np.array(["Star Wars (1977)", "Fargo (1996)", "é", "", "x"]),
        "fortran": np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4)),
        "big_endian": np.arange(4, dtype=">i4"),
        "flags": np.array([True, False]),
        "scalar": np.array(2.5),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }


def sample_header():
    return {
        "model_class": "MatrixFactorization",
        "hyperparameters": {"dim": 3, "learning_rate": np.float32(0.05), "loss": "warp"},
        "history": {"loss": [1.5, 0.75, float("nan")], "epochs": np.int64(3)},
    }


@pytest.fixture
def model_file(tmp_path):
    return save_arrays(tmp_path / "model.npz", sample_header(), sample_arrays())


def leftovers(folder):
    return sorted(name for name in os.listdir(folder) if name.endswith(".tmp"))


def rewrite_entry(path, entry_name, transform):
    """Rewrite one zip entry's bytes with valid CRCs (a deliberate tamper)."""
    with zipfile.ZipFile(path) as archive:
        contents = {info.filename: archive.read(info) for info in archive.infolist()}
    contents[entry_name] = transform(contents[entry_name])
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data)


def test_round_trip_keeps_dtypes_shapes_values_and_header(model_file):
    header, arrays = load_arrays(model_file)
    expected = sample_arrays()
    assert sorted(arrays) == sorted(expected)
    for name, array in expected.items():
        assert arrays[name].dtype == array.dtype, name
        assert arrays[name].shape == array.shape, name
        np.testing.assert_array_equal(arrays[name], array)
    assert header["model_class"] == "MatrixFactorization"
    assert header["hyperparameters"] == {"dim": 3, "learning_rate": float(np.float32(0.05)), "loss": "warp"}
    assert header["history"]["loss"][:2] == [1.5, 0.75]
    assert np.isnan(header["history"]["loss"][2])
    assert header["history"]["epochs"] == 3
    assert header["format"] == "tripletrec-model"
    assert header["format_version"] == FORMAT_VERSION == 1
    assert header["library_version"] == tripletrec.__version__
    assert header["checksum"].startswith("sha256:") and len(header["checksum"]) == 71
    assert header["arrays"] == sorted(expected)


def test_file_is_a_plain_npz_without_pickles(model_file):
    with np.load(model_file, allow_pickle=False) as archive:
        assert "__header__" in archive.files
        raw = archive["__header__"]
        assert raw.dtype == np.uint8
        assert json.loads(raw.tobytes().decode("utf-8"))["format_version"] == 1
        np.testing.assert_array_equal(archive["user_ids"], np.arange(100, 107))


@pytest.mark.parametrize(
    "name, written",
    [("model.npz", "model.npz"), ("model", "model.npz"), ("model.bin", "model.bin.npz")],
)
def test_suffix_npz_is_appended_like_numpy(tmp_path, name, written):
    path = save_arrays(tmp_path / name, {}, {"a": np.ones(2)})
    assert path == tmp_path / written
    assert sorted(os.listdir(tmp_path)) == [written]
    assert load_arrays(path)[1]["a"].tolist() == [1.0, 1.0]


def test_string_path_and_overwrite_leave_no_temporary_files(tmp_path):
    first = save_arrays(str(tmp_path / "m.npz"), {"round": 1}, {"a": np.zeros(3)})
    second = save_arrays(str(tmp_path / "m.npz"), {"round": 2}, {"a": np.ones(3)})
    assert first == second
    header, arrays = load_arrays(second)
    assert header["round"] == 2 and arrays["a"].tolist() == [1.0, 1.0, 1.0]
    assert os.listdir(tmp_path) == ["m.npz"]


def test_object_array_is_refused_naming_it(tmp_path):
    ids = np.array(["a", 3], dtype=object)
    with pytest.raises(ValueError, match="array 'user_ids' has dtype object"):
        save_arrays(tmp_path / "m.npz", {}, {"factors": np.ones(2), "user_ids": ids})
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "header, arrays, message",
    [
        ({"checksum": "x"}, {}, "header key 'checksum' is reserved"),
        ({"format_version": 9}, {}, "header key 'format_version' is reserved"),
        ({"model": object()}, {}, r"header\['model'\] cannot be stored as JSON"),
        ({}, {"../escape": np.ones(1)}, "array name '../escape' is not allowed"),
        ({}, {"__header__": np.ones(1)}, "array name '__header__' is not allowed"),
        ([("a", 1)], {}, "header must be a dict"),
        ({}, [np.ones(1)], "arrays must be a dict"),
    ],
)
def test_bad_header_or_names_are_refused(tmp_path, header, arrays, message):
    with pytest.raises(ValueError, match=message):
        save_arrays(tmp_path / "m.npz", header, arrays)
    assert os.listdir(tmp_path) == []


def test_failure_while_writing_removes_the_temporary_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = save_arrays(tmp_path / "m.npz", {"round": 1}, {"a": np.zeros(2), "b": np.zeros(2)})
    original = path.read_bytes()
    real_write_array = np.lib.format.write_array
    calls = []

    def failing_write_array(handle, array, *args, **kwargs):
        calls.append(array.shape)
        if len(calls) == 3:  # header, then "a", then fail on "b"
            raise OSError("disk full (simulated)")
        return real_write_array(handle, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", failing_write_array)
    with pytest.raises(OSError, match="disk full"):
        save_arrays(path, {"round": 2}, {"a": np.ones(2), "b": np.ones(2)})
    assert len(calls) == 3
    assert leftovers(tmp_path) == []
    assert path.read_bytes() == original


def test_failure_of_the_rename_removes_the_temporary(tmp_path, monkeypatch):
    def failing_replace(source, destination):
        assert os.path.exists(source)  # the complete temporary file was there
        raise PermissionError("read-only destination (simulated)")

    monkeypatch.setattr(io.os, "replace", failing_replace)
    with pytest.raises(PermissionError, match="read-only destination"):
        save_arrays(tmp_path / "m.npz", {}, {"a": np.ones(2)})
    assert os.listdir(tmp_path) == []


def test_missing_folder_is_an_os_error_and_writes_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        save_arrays(tmp_path / "no" / "such" / "m.npz", {}, {"a": np.ones(2)})
    assert os.listdir(tmp_path) == []


def test_missing_file_names_the_path_and_suggests_the_suffix(tmp_path, model_file):
    with pytest.raises(FileNotFoundError, match="no model file at .*absent.npz"):
        load_arrays(tmp_path / "absent.npz")
    with pytest.raises(FileNotFoundError, match=r"did you mean .*model\.npz"):
        load_arrays(tmp_path / "model")


def test_a_folder_is_not_a_model_file(tmp_path):
    with pytest.raises(ModelFileError, match="is not a regular file"):
        load_arrays(tmp_path)


def test_non_zip_file_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    path.write_text("user,item\n1,2\n")
    with pytest.raises(ModelFileError, match=r"not an \.npz \(zip\) archive, or it is truncated"):
        load_arrays(path)


def test_plain_npy_file_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    with open(path, "wb") as handle:
        np.save(handle, np.ones(3))
    with pytest.raises(ModelFileError, match=r"not an \.npz \(zip\) archive"):
        load_arrays(path)


@pytest.mark.parametrize("keep_fraction", [0.0, 0.5, 0.99])
def test_truncated_file_is_refused(model_file, keep_fraction):
    content = model_file.read_bytes()
    model_file.write_bytes(content[: int(len(content) * keep_fraction)])
    with pytest.raises(ModelFileError, match="truncated|corrupted"):
        load_arrays(model_file)


def test_flipped_byte_in_array_data_fails_the_zip_crc(model_file):
    content = bytearray(model_file.read_bytes())
    offset = content.find(sample_arrays()["user_factors"].tobytes())
    assert offset > 0
    content[offset + 5] ^= 0x01
    model_file.write_bytes(bytes(content))
    with pytest.raises(ModelFileError, match=r"is corrupted: the zip archive is damaged \(Bad CRC-32"):
        load_arrays(model_file)


def test_changed_array_with_valid_crc_fails_the_checksum(model_file):
    def bump_last_value(data):
        return data[:-1] + bytes([data[-1] ^ 0x40])

    rewrite_entry(model_file, "item_biases.npy", bump_last_value)
    with pytest.raises(ModelFileError, match="failed its checksum"):
        load_arrays(model_file)


def test_changed_header_with_valid_crc_fails_the_checksum(model_file):
    def change_hyperparameter(data):
        return data.replace(b'"dim":3', b'"dim":4').replace(b'"dim": 3', b'"dim": 4')

    rewrite_entry(model_file, "__header__.npy", change_hyperparameter)
    with pytest.raises(ModelFileError, match="failed its checksum"):
        load_arrays(model_file)


def test_removed_array_is_reported(model_file):
    with zipfile.ZipFile(model_file) as archive:
        contents = {info.filename: archive.read(info) for info in archive.infolist()}
    del contents["flags.npy"]
    with zipfile.ZipFile(model_file, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    with pytest.raises(ModelFileError, match="the header lists arrays .* but the file holds"):
        load_arrays(model_file)


def test_newer_format_version_names_both_versions(tmp_path, monkeypatch):
    monkeypatch.setattr(io, "FORMAT_VERSION", 2)
    path = save_arrays(tmp_path / "future.npz", {}, {"a": np.ones(2)})
    monkeypatch.setattr(io, "FORMAT_VERSION", 1)
    with pytest.raises(
        ModelFileError,
        match=r"has model file format version 2 .* reads format version 1 only; upgrade",
    ):
        load_arrays(path)


def test_unknown_older_format_version_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(io, "FORMAT_VERSION", 0)
    path = save_arrays(tmp_path / "old.npz", {}, {"a": np.ones(2)})
    monkeypatch.setattr(io, "FORMAT_VERSION", 1)
    with pytest.raises(ModelFileError, match="unknown model file format version 0; .* reads format version 1"):
        load_arrays(path)


def test_npz_with_pickled_object_array_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "evil.npz"

    class Explodes:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    header = np.frombuffer(json.dumps({"format": "tripletrec-model", "format_version": 1}).encode(), dtype=np.uint8)
    np.savez(path, __header__=header, payload=np.array([Explodes()], dtype=object))
    with pytest.raises(ModelFileError, match="array 'payload' holds pickled Python objects"):
        load_arrays(path)
    assert not (tmp_path / "pwned").exists()


def test_npz_that_is_not_a_model_is_refused(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.ones(3))
    with pytest.raises(ModelFileError, match="an .npz archive but not a tripletrec model file"):
        load_arrays(path)


def test_header_that_is_not_tripletrec_json_is_refused(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, __header__=np.frombuffer(b'{"format": "other"}', dtype=np.uint8))
    with pytest.raises(ModelFileError, match="the header does not describe a tripletrec model"):
        load_arrays(path)
    np.savez(path, __header__=np.frombuffer(b"\xff\xfe", dtype=np.uint8))
    with pytest.raises(ModelFileError, match="the header is not valid UTF-8 JSON"):
        load_arrays(path)


def test_entry_claiming_a_huge_shape_is_refused_before_allocating(model_file):
    def claim_huge_shape(data):
        return data.replace(b"(7, 3)", b"(7000000000000, 3)", 1)

    rewrite_entry(model_file, "user_factors.npy", claim_huge_shape)
    with pytest.raises(ModelFileError, match=r"array 'user_factors' claims shape \(7000000000000, 3\)"):
        load_arrays(model_file)


def test_every_single_byte_flip_is_caught_or_harmless(tmp_path):
    arrays = {"factors": np.arange(6, dtype=np.float32).reshape(2, 3), "ids": np.array(["a", "bc"])}
    path = save_arrays(tmp_path / "small.npz", {"model_class": "Demo"}, arrays)
    original = path.read_bytes()
    expected_header, _ = load_arrays(path)
    corrupt = tmp_path / "corrupt.npz"
    caught = 0
    for offset in range(len(original)):
        content = bytearray(original)
        content[offset] ^= 0xFF
        corrupt.write_bytes(bytes(content))
        try:
            header, loaded = load_arrays(corrupt)
        except ModelFileError:
            caught += 1
            continue
        # A flip in a field the zip reader ignores: the content is intact.
        assert header == expected_header
        assert sorted(loaded) == sorted(arrays)
        for name, array in arrays.items():
            np.testing.assert_array_equal(loaded[name], array)
            assert loaded[name].dtype == array.dtype
    assert caught > len(original) // 2


# ------------------------------------------------- sizes checked before inflating
def rewrite_header(path, change):
    """Rewrite the JSON header through ``change(header)`` (the checksum goes stale)."""

    def transform(data):
        header = json.loads(np.lib.format.read_array(iolib.BytesIO(data)).tobytes().decode("utf-8"))
        change(header)
        buffer = iolib.BytesIO()
        np.lib.format.write_array(buffer, np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8))
        return buffer.getvalue()

    rewrite_entry(path, "__header__.npy", transform)


def write_raw_zip(path, entries):
    """A zip archive from (name, method, payload, crc, inflated size) as given, trusting them."""
    content, directory = bytearray(), bytearray()
    for name, method, payload, crc, inflated_size in entries:
        encoded = name.encode("ascii")
        offset = len(content)
        content += (
            struct.pack(
                "<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(payload), inflated_size, len(encoded), 0
            )
            + encoded
            + payload
        )
        directory += (
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0,
                method,
                0,
                0x21,
                crc,
                len(payload),
                inflated_size,
                len(encoded),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + encoded
        )
    content += directory + struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(directory), len(content), 0
    )
    path.write_bytes(bytes(content))


def test_zip_bomb_entry_is_refused_from_the_zip_directory_without_inflating(model_file):
    # user_factors.npy becomes 2 GiB of zeros deflated to about 2 MB, with a
    # .npy preamble that agrees with its size: only the header's layout
    # (shape (7, 3) of float32) shows the lie.
    preamble = iolib.BytesIO()
    np.lib.format.write_array_header_1_0(preamble, {"descr": "<f4", "fortran_order": False, "shape": (2**29,)})
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(preamble.getvalue()) + compressor.flush(zlib.Z_FULL_FLUSH)
    # After a full flush deflate starts afresh, so one flushed MiB of zeros repeats.
    mebibyte = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    stream = head + mebibyte * 2048 + compressor.flush()
    inflated_size = len(preamble.getvalue()) + 2**31
    with zipfile.ZipFile(model_file) as archive:
        entries = [(info.filename, 0, archive.read(info), info.CRC, info.file_size) for info in archive.infolist()]
    # The CRC is not computed: the loader must refuse before it would get to check one.
    entries = [
        ("user_factors.npy", 8, stream, 0, inflated_size) if name == "user_factors.npy" else (name, 0, data, crc, size)
        for name, _, data, crc, size in entries
    ]
    write_raw_zip(model_file, entries)
    assert model_file.stat().st_size < 3 * 2**20
    started = time.perf_counter()
    with pytest.raises(
        ModelFileError,
        match=rf"entry 'user_factors.npy' would inflate to {inflated_size} bytes "
        r"but the header declares array 'user_factors' as shape \(7, 3\) "
        r"of float32 \(84 bytes\); refused without inflating it",
    ):
        load_arrays(model_file)
    assert time.perf_counter() - started < 1.0


def test_entry_the_header_does_not_declare_is_refused_naming_it(model_file):
    with zipfile.ZipFile(model_file, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        buffer = iolib.BytesIO()
        np.lib.format.write_array(buffer, np.zeros(1000))
        archive.writestr("zeros.npy", buffer.getvalue())
    with pytest.raises(ModelFileError, match=r"entry 'zeros.npy' is not declared by the header \(it declares "):
        load_arrays(model_file)


def test_entry_that_is_not_an_npy_array_is_refused(model_file):
    with zipfile.ZipFile(model_file, "a") as archive:
        archive.writestr("notes.txt", b"hello")
    with pytest.raises(ModelFileError, match=r"entry 'notes.txt' is not a .npy array"):
        load_arrays(model_file)


def test_preamble_disagreeing_with_the_layout_is_refused(model_file):
    # Same size, another dtype: only the layout tells.
    rewrite_entry(model_file, "user_factors.npy", lambda data: data.replace(b"'<f4'", b"'<i4'", 1))
    with pytest.raises(
        ModelFileError,
        match=r"array 'user_factors' claims shape \(7, 3\) of int32 but the header "
        r"declares shape \(7, 3\) of float32",
    ):
        load_arrays(model_file)


@pytest.mark.parametrize(
    "layout, message",
    [
        (
            {"dtype": "<f8", "shape": [2**30, 2**30]},
            r"declares array 'fortran' of shape \(1073741824, 1073741824\) of float64 \(9223372036854775808 bytes\), "
            r"which brings the file past the 1099511627776 bytes \(MAX_MODEL_BYTES\)",
        ),
        (
            {"dtype": "|V0", "shape": [2**40, 2**40]},
            r"declares array 'fortran' of shape \(1099511627776, 1099511627776\), whose "
            r"1208925819614629174706176 elements overflow an index",
        ),
        ({"dtype": "<f8", "shape": [3, -4]}, r"declares array 'fortran' with an invalid shape \[3, -4\]"),
        ({"dtype": "<f8", "shape": [3, True]}, r"declares array 'fortran' with an invalid shape \[3, True\]"),
        ({"dtype": "not-a-dtype", "shape": [3, 4]}, r"declares array 'fortran' with an invalid dtype 'not-a-dtype'"),
        ({"dtype": "|O", "shape": [3, 4]}, r"declares array 'fortran' of dtype object, which holds pickled"),
    ],
)
def test_absurd_layout_is_refused_before_allocating(model_file, layout, message):
    def change(header):
        header["array_layout"]["fortran"] = layout

    rewrite_header(model_file, change)
    with pytest.raises(ModelFileError, match=message):
        load_arrays(model_file)


def test_layout_naming_other_arrays_than_listed_is_refused(model_file):
    def change(header):
        header["array_layout"]["ghost"] = {"dtype": "<f8", "shape": [1]}

    rewrite_header(model_file, change)
    with pytest.raises(ModelFileError, match=r"array_layout does not describe exactly the arrays it lists"):
        load_arrays(model_file)


def test_oversized_header_entry_is_refused_before_reading(model_file, monkeypatch):
    monkeypatch.setattr(io, "MAX_HEADER_BYTES", 100)
    with pytest.raises(ModelFileError, match=r"the header entry would inflate to \d+ bytes, more than the 100 bytes"):
        load_arrays(model_file)


def test_save_refuses_more_than_the_loader_accepts(tmp_path, monkeypatch):
    monkeypatch.setattr(io, "MAX_MODEL_BYTES", 100)
    with pytest.raises(ValueError, match=r"the arrays hold 104 bytes, more than the 100 bytes \(MAX_MODEL_BYTES\)"):
        save_arrays(tmp_path / "m.npz", {}, {"a": np.zeros(13)})
    assert os.listdir(tmp_path) == []


def write_file_without_layout(path, arrays, compression):
    """A file as save_arrays wrote it before headers carried array_layout."""
    header = {
        "format": "tripletrec-model",
        "format_version": FORMAT_VERSION,
        "library_version": tripletrec.__version__,
        "arrays": sorted(arrays),
    }
    header["checksum"] = io._checksum(header, arrays)
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        entries = {"__header__": np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8), **arrays}
        for name, array in entries.items():
            buffer = iolib.BytesIO()
            np.lib.format.write_array(buffer, array)
            archive.writestr(name + ".npy", buffer.getvalue())


def test_file_without_layout_loads_only_if_stored_uncompressed(tmp_path):
    path = tmp_path / "old.npz"
    write_file_without_layout(path, {"a": np.arange(5.0)}, zipfile.ZIP_STORED)
    assert load_arrays(path)[1]["a"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    write_file_without_layout(path, {"a": np.arange(5.0)}, zipfile.ZIP_DEFLATED)
    with pytest.raises(ModelFileError, match=r"entry 'a.npy' is compressed but the header declares no array_layout"):
        load_arrays(path)


def test_stored_entry_whose_sizes_disagree_is_refused(model_file):
    with zipfile.ZipFile(model_file) as archive:
        entries = [(info.filename, 0, archive.read(info), info.CRC, info.file_size) for info in archive.infolist()]
    entries = [
        (name, method, data, crc, size + 1000 if name == "item_biases.npy" else size)
        for name, method, data, crc, size in entries
    ]
    write_raw_zip(model_file, entries)
    with pytest.raises(ModelFileError, match=r"entry 'item_biases.npy' declares \d+ stored and \d+ inflated bytes"):
        load_arrays(model_file)


# ------------------------------------------------------- replacing a file safely
def test_stale_temporaries_of_the_same_target_are_removed_and_others_kept(tmp_path):
    old = time.time() - io.STALE_TEMPORARY_SECONDS - 60

    def temporary(name, modified):
        path = tmp_path / name
        path.write_bytes(b"half a model")
        os.utime(path, (modified, modified))
        return path

    stale = [temporary(".m.npz.0123456789abcdef.tmp", old), temporary(".m.npz.fedcba9876543210.tmp", old)]
    kept = [
        temporary(".m.npz.00112233445566ff.tmp", time.time()),  # recent: a save may be writing it
        temporary(".other.npz.0123456789abcdef.tmp", old),  # another target
        temporary(".m.npz.0123.tmp", old),  # not the exact pattern
        temporary(".xm.npz.0123456789abcdef.tmp", old),  # another target that ends like this one
    ]
    save_arrays(tmp_path / "m.npz", {}, {"a": np.ones(2)})
    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in kept)
    assert sorted(os.listdir(tmp_path)) == sorted(["m.npz", *(path.name for path in kept)])


def test_read_only_file_is_not_replaced(tmp_path):
    path = save_arrays(tmp_path / "m.npz", {"round": 1}, {"a": np.zeros(2)})
    original = path.read_bytes()
    path.chmod(0o444)
    # Mode bits decide, so this holds when the tests run as root too.
    with pytest.raises(PermissionError, match=r"m\.npz is read-only \(mode -r--r--r--\); tripletrec does not replace"):
        save_arrays(path, {"round": 2}, {"a": np.ones(2)})
    assert path.read_bytes() == original
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert os.listdir(tmp_path) == ["m.npz"]


def test_replacing_keeps_the_permission_bits(tmp_path):
    path = save_arrays(tmp_path / "m.npz", {"round": 1}, {"a": np.zeros(2)})
    path.chmod(0o640)
    save_arrays(path, {"round": 2}, {"a": np.ones(2)})
    assert load_arrays(path)[0]["round"] == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_failure_to_keep_the_permission_bits_removes_the_temporary(tmp_path, monkeypatch):
    path = save_arrays(tmp_path / "m.npz", {"round": 1}, {"a": np.zeros(2)})
    original = path.read_bytes()

    def failing_chmod(*args, **kwargs):
        raise OSError("chmod refused (simulated)")

    monkeypatch.setattr(io.os, "chmod", failing_chmod)
    with pytest.raises(OSError, match="chmod refused"):
        save_arrays(path, {"round": 2}, {"a": np.ones(2)})
    assert os.listdir(tmp_path) == ["m.npz"]
    assert path.read_bytes() == original
