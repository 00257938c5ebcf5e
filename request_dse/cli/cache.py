"""``request-dse cache``: what the shared cache holds, and a size limit for it."""

from __future__ import annotations

import click


def _mb(n: int) -> str:
    return f"{n / (1 << 20):.1f} MB"


@click.group("cache")
def command() -> None:
    """The shared cache of prepared models, results and tuning databases.

    It lives in $REQUEST_DSE_CACHE (default ~/.cache/request-dse) and is limited to
    $REQUEST_DSE_CACHE_MAX_MB megabytes (default 5120): when a study ends, the least recently
    used entries are evicted until it fits.
    """


@command.command("info")
def info() -> None:
    """Print where the cache is, its size per area, and its limit."""
    from request_dse.cachedir import cache_root, entries, max_bytes

    root = cache_root()
    sizes: dict[str, list[int]] = {}
    for entry in entries(root):
        area = entry.path.relative_to(root).parts[0]
        sizes.setdefault(area, [0, 0])
        sizes[area][0] += 1
        sizes[area][1] += entry.size
    click.echo(f"cache: {root}")
    for area, (count, size) in sorted(sizes.items()):
        click.echo(f"  {area:<14} {count:>6} entries {_mb(size):>12}")
    click.echo(f"  {'total':<14} {sum(c for c, _ in sizes.values()):>6} entries "
               f"{_mb(sum(s for _, s in sizes.values())):>12}  (limit {_mb(max_bytes())})")


@command.command("prune")
@click.option("--max-mb", type=click.FloatRange(min=0), help="Size to prune to (default: the limit).")
def prune(max_mb: float | None) -> None:
    """Evict least recently used entries until the cache fits (entries used in the last ten
    minutes are kept)."""
    from request_dse.cachedir import cache_root, prune as do_prune
    from request_dse.text import plural

    done = do_prune(cache_root(), None if max_mb is None else int(max_mb * (1 << 20)))
    click.echo(f"evicted {plural(done.entries, 'entry')} ({_mb(done.bytes_freed)}); "
               f"{_mb(done.bytes_before - done.bytes_freed)} left, limit {_mb(done.limit)}")
