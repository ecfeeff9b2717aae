#!/usr/bin/python3
"""check_pth_with_torch.py - reference check of the .pth files bertvits2.c writes (src/io/pth.c),
with the real torch.load. NOT run by `make test` (the build needs no Python); run it by hand
after changing src/io/pickle.c or src/io/pth.c:

    mkdir -p /tmp/pth && BV_PTH_KEEP_DIR=/tmp/pth build/bv2-tests --golden ../shared/golden pth_save
    /usr/bin/python3 tests/ref/check_pth_with_torch.py /tmp/pth/synthetic.pth
    /usr/bin/python3 tests/ref/check_pth_with_torch.py /tmp/pth/G_0.pth ../shared/golden/checkpoints/G_0.pth

The first form loads a file (also tries weights_only=True where this torch has it, i.e. torch's
restricted unpickler, and reports what it says) and prints its object tree: keys, types, tensor
dtypes and shapes. The second also compares it with a reference file written by torch.save:
same structure, same keys in the same order, every tensor equal in dtype, shape and bits. Exit
status 0 when everything loads (and matches), 1 otherwise. Needs Debian's python3-torch.
"""
import collections
import inspect
import sys

import torch


def load(path):
    kwargs = {"map_location": "cpu"}
    if "weights_only" in inspect.signature(torch.load).parameters:
        # torch's restricted unpickler; informational only: torch 1.13's lacks BINFLOAT, so it also
        # refuses the checkpoints torch.save itself writes (learning_rate is a float)
        try:
            torch.load(path, weights_only=True, **kwargs)
            print(f"  weights_only=True: loads")
        except Exception as e:  # noqa: BLE001 - report whatever the restricted unpickler says
            print(f"  weights_only=True: refused ({str(e).split('error:')[-1].strip()})")
        kwargs["weights_only"] = False
    return torch.load(path, **kwargs)


def describe(obj, indent=0, out=print, limit=12):
    pad = "  " * indent
    if isinstance(obj, dict):
        kind = "OrderedDict" if isinstance(obj, collections.OrderedDict) else "dict"
        meta = " (+_metadata)" if getattr(obj, "_metadata", None) is not None else ""
        out(f"{pad}{kind}{meta} with {len(obj)} keys")
        items = list(obj.items())
        for k, v in items[:limit]:
            if isinstance(v, (dict, list, tuple)):
                out(f"{pad}  {k!r}:")
                describe(v, indent + 2, out, 3)
            else:
                out(f"{pad}  {k!r}: {leaf(v)}")
        if len(items) > limit:
            out(f"{pad}  ... {len(items) - limit} more")
    elif isinstance(obj, (list, tuple)):
        out(f"{pad}{type(obj).__name__} of {len(obj)}: " + ", ".join(leaf(v) for v in obj[:limit])
            + (" ..." if len(obj) > limit else ""))
    else:
        out(f"{pad}{leaf(obj)}")


def leaf(v):
    if isinstance(v, torch.Tensor):
        return f"tensor {str(v.dtype).replace('torch.', '')} {list(v.shape)}" + (" requires_grad" if v.requires_grad else "")
    if isinstance(v, (dict, list, tuple)):
        return f"{type(v).__name__}[{len(v)}]"
    return repr(v)


def compare(a, b, where="root"):
    """Yields a message for every difference between a and b."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            yield f"{where}: tensor vs {type(b).__name__}"
        elif a.dtype != b.dtype or a.shape != b.shape:
            yield f"{where}: {a.dtype} {list(a.shape)} vs {b.dtype} {list(b.shape)}"
        elif not torch.equal(a.reshape(-1).contiguous().view(torch.uint8),  # bitwise: NaNs, -0.0
                             b.reshape(-1).contiguous().view(torch.uint8)):
            yield f"{where}: values differ"
        return
    if type(a) is not type(b):
        yield f"{where}: {type(a).__name__} vs {type(b).__name__}"
        return
    if isinstance(a, dict):
        if list(a.keys()) != list(b.keys()):
            yield f"{where}: keys differ ({len(a)} vs {len(b)})"
            return
        for k in a:
            yield from compare(a[k], b[k], f"{where}[{k!r}]")
        if getattr(a, "_metadata", None) != getattr(b, "_metadata", None):
            yield f"{where}: _metadata differs"
    elif isinstance(a, (list, tuple)):
        if len(a) != len(b):
            yield f"{where}: length {len(a)} vs {len(b)}"
            return
        for i, (x, y) in enumerate(zip(a, b)):
            yield from compare(x, y, f"{where}[{i}]")
    elif a != b:
        yield f"{where}: {a!r} vs {b!r}"


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__)
        return 1
    print(f"torch {torch.__version__}: loading {argv[1]}")
    ours = load(argv[1])
    describe(ours)
    if len(argv) == 3:
        print(f"reference {argv[2]}:")
        ref = load(argv[2])
        diffs = list(compare(ours, ref))
        for d in diffs[:20]:
            print("DIFF", d)
        print(f"compared with {argv[2]}: {'identical' if not diffs else f'{len(diffs)} differences'}")
        return 1 if diffs else 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
