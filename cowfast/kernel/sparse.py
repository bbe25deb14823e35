"""A regular file's bytes, kept sparse: a hole reads as zeros and holds no host memory.

Linux filesystems allocate blocks only where something was written (tmpfs: pages),
so lseek(fd, 2**33) and a one-byte write make an 8 GiB file that costs one block.
SparseData keeps written blocks in a dict by block number; st_blocks, SEEK_DATA and
SEEK_HOLE see exactly those blocks, as they do on tmpfs.
"""
from __future__ import annotations

BLOCK = 4096
MAX_RW_COUNT = (1 << 31) - BLOCK          # Linux caps one read or write at this (fs/read_write.c)


class SparseData:
    """The contents of a file: a size and the blocks written so far (bytearrays of BLOCK)."""

    __slots__ = ("blocks", "size")

    def __init__(self, data: bytes = b"") -> None:
        self.blocks: dict[int, bytearray] = {}     # block number -> its BLOCK bytes
        self.size = 0
        if data:
            self.write(0, bytes(data))

    def __len__(self) -> int:
        return self.size

    def __bytes__(self) -> bytes:
        return self.read(0, self.size)

    def __getitem__(self, key: slice) -> bytes:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("file data is read by contiguous slices")
        start, stop, _ = key.indices(self.size)
        return self.read(start, stop - start)

    def startswith(self, prefix: bytes) -> bool:
        return self.read(0, len(prefix)) == prefix

    def read(self, offset: int, n: int) -> bytes:
        """Return the bytes of [offset, offset+n) that lie before the end of the file."""
        end = min(self.size, offset + n)
        if offset >= end:
            return b""
        out = bytearray(end - offset)
        first, last = offset // BLOCK, (end - 1) // BLOCK
        if last - first + 1 > len(self.blocks):
            numbers = [b for b in self.blocks if first <= b <= last]
        else:
            numbers = [b for b in range(first, last + 1) if b in self.blocks]
        for b in numbers:
            lo, hi = max(offset, b * BLOCK), min(end, (b + 1) * BLOCK)
            out[lo - offset:hi - offset] = self.blocks[b][lo - b * BLOCK:hi - b * BLOCK]
        return bytes(out)

    def write(self, offset: int, data: bytes) -> None:
        """Store data at offset, allocating the blocks it touches; the file grows to cover it."""
        if not data:
            return
        end = offset + len(data)
        pos = offset
        while pos < end:
            b = pos // BLOCK
            block = self.blocks.get(b)
            if block is None:
                block = self.blocks[b] = bytearray(BLOCK)
            hi = min(end, (b + 1) * BLOCK)
            block[pos - b * BLOCK:hi - b * BLOCK] = data[pos - offset:hi - offset]
            pos = hi
        self.size = max(self.size, end)

    def truncate(self, size: int) -> None:
        """Cut or extend the file to size bytes (an extension is a hole)."""
        if size < self.size:
            for b in [b for b in self.blocks if b * BLOCK >= size]:
                del self.blocks[b]
            tail = self.blocks.get(size // BLOCK)
            if tail is not None:
                tail[size % BLOCK:] = bytes(BLOCK - size % BLOCK)
        self.size = size

    def clear(self) -> None:
        self.truncate(0)

    def allocated(self) -> int:
        """Bytes of blocks actually held (st_blocks * 512)."""
        return len(self.blocks) * BLOCK

    def next_data(self, offset: int) -> int | None:
        """SEEK_DATA: the first offset >= offset inside a written block, or None."""
        b = min((b for b in self.blocks if (b + 1) * BLOCK > offset), default=None)
        if b is None or b * BLOCK >= self.size:
            return None
        return max(offset, b * BLOCK)

    def next_hole(self, offset: int) -> int:
        """SEEK_HOLE: the first offset >= offset outside every written block (the end counts)."""
        b = offset // BLOCK
        while b in self.blocks:
            b += 1
        return min(self.size, max(offset, b * BLOCK))
