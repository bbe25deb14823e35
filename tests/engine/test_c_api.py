"""The C boundary itself: hostile arguments return CF_EINVAL and never crash (STYLE §7)."""
import pytest

from cowfast._native import ffi, lib

NULL = ffi.NULL
PAGE = 4096
U64_MAX = (1 << 64) - 1


@pytest.fixture
def mem():
    """A cf_mem made through the C API directly, freed after the test."""
    out = ffi.new("cf_mem **")
    assert lib.cf_mem_new(16, PAGE, lib.CF_MEM_CONTENTS, out) == lib.CF_OK
    yield out[0]
    lib.cf_mem_free(out[0])


@pytest.fixture
def space(mem):
    """A cf_as on `mem` with one writable page at 0x10000; check() must pass afterwards."""
    out = ffi.new("cf_as **")
    assert lib.cf_as_new(mem, 0, out) == lib.CF_OK
    assert lib.cf_as_map(out[0], 0x10000, PAGE, lib.CF_PROT_READ | lib.CF_PROT_WRITE, 0) == 0
    yield out[0]
    problems = ffi.new("uint64_t *")
    msg = ffi.new("char[]", lib.CF_CHECK_MSG)
    assert lib.cf_mem_check(mem, msg, lib.CF_CHECK_MSG, problems) == lib.CF_OK
    assert problems[0] == 0, ffi.string(msg)
    lib.cf_as_free(out[0])


def fault():
    return ffi.new("struct cf_fault *")


@pytest.mark.parametrize("nframes, page_size, flags", [
    (0, PAGE, 0), (lib.CF_MAX_FRAMES + 1, PAGE, 0), (1, 1000, 0), (1, 256, 0),
    (1, 4 << 20, 0), (1, PAGE, 0x80)],
    ids=["no-frames", "too-many-frames", "odd-page", "small-page", "huge-page", "bad-flag"])
def test_mem_new_rejects_bad_arguments(nframes, page_size, flags):
    """cf_mem_new refuses impossible sizes and unknown flags."""
    out = ffi.new("cf_mem **")
    assert lib.cf_mem_new(nframes, page_size, flags, out) == lib.CF_EINVAL


def test_mem_new_rejects_null_out():
    """cf_mem_new with a NULL out-pointer is EINVAL."""
    assert lib.cf_mem_new(1, PAGE, 0, NULL) == lib.CF_EINVAL


def test_free_functions_accept_null():
    """cf_mem_free(NULL) and cf_as_free(NULL) are no-ops."""
    lib.cf_mem_free(NULL)
    lib.cf_as_free(NULL)


def test_null_handles_are_einval(mem):
    """Every entry point given a NULL handle returns CF_EINVAL."""
    buf, out_as = ffi.new("char[]", 8), ffi.new("cf_as **")
    done, vpns = ffi.new("size_t *"), ffi.new("uint64_t[]", [16])
    calls = [
        lambda: lib.cf_mem_stats(NULL, ffi.new("struct cf_mem_stats *")),
        lambda: lib.cf_mem_check(NULL, buf, 8, ffi.new("uint64_t *")),
        lambda: lib.cf_as_new(NULL, 0, out_as),
        lambda: lib.cf_as_fork(NULL, out_as),
        lambda: lib.cf_as_map(NULL, 0x10000, PAGE, 3, 0),
        lambda: lib.cf_as_unmap(NULL, 0x10000, PAGE),
        lambda: lib.cf_as_protect(NULL, 0x10000, PAGE, 1, fault()),
        lambda: lib.cf_as_read(NULL, 0x10000, buf, 8, fault()),
        lambda: lib.cf_as_write(NULL, 0x10000, buf, 8, fault()),
        lambda: lib.cf_as_touch(NULL, vpns, 1, 0, done, fault()),
        lambda: lib.cf_as_stats(NULL, ffi.new("struct cf_as_stats *")),
        lambda: lib.cf_as_counters(NULL, ffi.new("struct cf_as_counters *")),
    ]
    assert [call() for call in calls] == [lib.CF_EINVAL] * len(calls)


def test_null_out_pointers_are_einval(mem, space):
    """NULL out-parameters and NULL buffers with a length are CF_EINVAL."""
    vpns, done = ffi.new("uint64_t[]", [16]), ffi.new("size_t *")
    calls = [
        lambda: lib.cf_mem_stats(mem, NULL),
        lambda: lib.cf_as_new(mem, 0, NULL),
        lambda: lib.cf_as_fork(space, NULL),
        lambda: lib.cf_as_stats(space, NULL),
        lambda: lib.cf_as_protect(space, 0x10000, PAGE, 1, NULL),
        lambda: lib.cf_as_read(space, 0x10000, NULL, 8, fault()),
        lambda: lib.cf_as_write(space, 0x10000, NULL, 8, fault()),
        lambda: lib.cf_as_touch(space, NULL, 1, 0, done, fault()),
        lambda: lib.cf_as_touch(space, vpns, 1, 0, NULL, fault()),
        lambda: lib.cf_as_touch(space, vpns, 1, 0, done, NULL),
        lambda: lib.cf_as_counters(space, NULL),
    ]
    assert [call() for call in calls] == [lib.CF_EINVAL] * len(calls)


def test_read_and_write_accept_a_null_fault_record(space):
    """read and write may be called without a fault record: the status still says EFAULT."""
    buf = ffi.new("char[]", 8)
    assert lib.cf_as_read(space, 0x20000, buf, 8, NULL) == lib.CF_EFAULT
    assert lib.cf_as_write(space, 0x20000, buf, 8, NULL) == lib.CF_EFAULT


def test_calls_on_a_closed_space_are_ebadf(mem):
    """After cf_as_close every call on the space is CF_EBADF; close is idempotent."""
    out = ffi.new("cf_as **")
    assert lib.cf_as_new(mem, 0, out) == lib.CF_OK
    a, buf, f = out[0], ffi.new("char[]", 8), fault()
    assert lib.cf_as_close(a) == lib.CF_OK
    assert lib.cf_as_close(a) == lib.CF_OK
    vpns, done = ffi.new("uint64_t[]", [16]), ffi.new("size_t *")
    calls = [
        lambda: lib.cf_as_fork(a, ffi.new("cf_as **")),
        lambda: lib.cf_as_map(a, 0x10000, PAGE, 1, 0),
        lambda: lib.cf_as_unmap(a, 0x10000, PAGE),
        lambda: lib.cf_as_protect(a, 0x10000, PAGE, 1, f),
        lambda: lib.cf_as_read(a, 0x10000, buf, 8, f),
        lambda: lib.cf_as_write(a, 0x10000, buf, 8, f),
        lambda: lib.cf_as_touch(a, vpns, 1, 0, done, f),
    ]
    assert [call() for call in calls] == [lib.CF_EBADF] * len(calls)
    lib.cf_as_free(a)


@pytest.mark.parametrize("addr, length", [
    (U64_MAX - PAGE + 1, 2 * PAGE), (0, U64_MAX), (PAGE, U64_MAX - PAGE + 1), (U64_MAX, 1),
    (1 << 48, PAGE), ((1 << 48) - PAGE, 2 * PAGE), (0x10001, PAGE), (0x10000, 0)],
    ids=["wraps", "max-length", "wraps-exactly", "last-byte", "at-top", "crosses-top",
         "unaligned", "empty"])
def test_bad_ranges_are_einval(space, addr, length):
    """map and unmap of wrapping, out-of-space, unaligned or empty ranges return CF_EINVAL."""
    assert lib.cf_as_map(space, addr, length, 3, 0) == lib.CF_EINVAL
    assert lib.cf_as_unmap(space, addr, length) == lib.CF_EINVAL


@pytest.mark.parametrize("addr, length", [(U64_MAX - 7, 16), (1, U64_MAX)],
                         ids=["end-wraps", "huge-length"])
def test_wrapping_accesses_are_einval(space, addr, length):
    """read and write whose range wraps past 2**64 return CF_EINVAL and touch no buffer."""
    buf = ffi.new("char[]", 16)
    assert lib.cf_as_read(space, addr, buf, length, fault()) == lib.CF_EINVAL
    assert lib.cf_as_write(space, addr, buf, length, fault()) == lib.CF_EINVAL


def test_protect_wrapping_range_is_einval(space):
    """protect of a range wrapping past 2**64 is CF_EINVAL."""
    assert lib.cf_as_protect(space, U64_MAX - PAGE + 1, 2 * PAGE, 1, fault()) == lib.CF_EINVAL


def test_unknown_flags_are_einval(mem, space):
    """Unknown prot, map, address-space and touch flags return CF_EINVAL."""
    vpns, done = ffi.new("uint64_t[]", [16]), ffi.new("size_t *")
    assert lib.cf_as_map(space, 0x10000, PAGE, 8, 0) == lib.CF_EINVAL
    assert lib.cf_as_map(space, 0x10000, PAGE, 3, 2) == lib.CF_EINVAL
    assert lib.cf_as_protect(space, 0x10000, PAGE, 16, fault()) == lib.CF_EINVAL
    assert lib.cf_as_new(mem, 2, ffi.new("cf_as **")) == lib.CF_EINVAL
    assert lib.cf_as_touch(space, vpns, 1, 2, done, fault()) == lib.CF_EINVAL


def test_touch_page_beyond_space_is_unmapped(space):
    """A page number at or above 2**48 / page_size faults as unmapped, even U64_MAX."""
    for bad in ((1 << 48) // PAGE, U64_MAX):
        vpns, done, f = ffi.new("uint64_t[]", [bad]), ffi.new("size_t *"), fault()
        assert lib.cf_as_touch(space, vpns, 1, lib.CF_TOUCH_WRITE, done, f) == lib.CF_EFAULT
        assert (done[0], f.code) == (0, lib.CF_SEGV_MAPERR)


def test_fault_carries_address_and_code(space):
    """CF_EFAULT fills struct cf_fault with the first faulting byte and the si_code."""
    f = fault()
    buf = ffi.new("char[]", 8)
    assert lib.cf_as_write(space, 0x20004, buf, 8, f) == lib.CF_EFAULT
    assert (f.addr, f.code) == (0x20004, lib.CF_SEGV_MAPERR)


def test_zero_length_access_with_null_buffer_is_ok(space):
    """A zero-length read or write may pass NULL for the buffer."""
    assert lib.cf_as_read(space, 0x10000, NULL, 0, fault()) == lib.CF_OK
    assert lib.cf_as_write(space, 0x10000, NULL, 0, fault()) == lib.CF_OK


def test_check_rejects_null_problems_and_null_message(mem):
    """cf_mem_check needs a problems pointer, and a buffer whenever msglen > 0."""
    problems = ffi.new("uint64_t *")
    assert lib.cf_mem_check(mem, ffi.new("char[]", 8), 8, NULL) == lib.CF_EINVAL
    assert lib.cf_mem_check(mem, NULL, 8, problems) == lib.CF_EINVAL


@pytest.mark.parametrize("msglen", [0, 1], ids=["no-buffer", "one-byte"])
def test_check_with_tiny_message_buffer(mem, space, msglen):
    """cf_mem_check works with no message buffer or a one-byte one (never writes past it)."""
    problems = ffi.new("uint64_t *", 99)
    msg = ffi.new("char[]", msglen) if msglen else NULL
    assert lib.cf_mem_check(mem, msg, msglen, problems) == lib.CF_OK
    assert problems[0] == 0
