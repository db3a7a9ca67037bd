"""Charts for the evaluator's report, drawn with matplotlib (Agg, no display) as inline SVG.

Every chart is a self-contained ``<svg>`` string: text stays text (system fonts, searchable,
read by screen readers), ids are prefixed so several charts can share one page, and the size
follows the page width. Intervals are drawn as whiskers; the adjusted estimate is the filled
marker, the raw share from predicted labels the hollow one.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from pipeline.labels import RoshLevel

#: Colours: a dark blue for the headline (adjusted) figure, grey for the raw one, an accent.
ADJUSTED = "#1d4f91"
RAW = "#8a8f98"
ACCENT = "#c0504d"
GRID = "#e3e6ea"
TEXT = "#1f2933"

_RC = {
    "svg.fonttype": "none",  # text as <text>: small, selectable, uses the reader's system font
    "svg.hashsalt": "oversight-report",  # stable ids: the same tables give the same file
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # metrics for layout; the browser substitutes
    "font.size": 9,
    "axes.edgecolor": "#9aa5b1",
    "axes.labelcolor": TEXT,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": TEXT,
    "ytick.color": TEXT,
    "legend.frameon": False,
}


@dataclass(frozen=True)
class Chart:
    """One rendered chart: its inline SVG, a caption and the alt text screen readers get."""

    key: str
    svg: str
    caption: str
    alt: str


def _pct(x: float, _pos: int | None = None) -> str:
    return f"{x * 100:.0f}%"


def _tick(label: str) -> str:
    """A label matplotlib draws as written ('$' would start mathtext)."""
    return str(label).replace("$", r"\$")


# Every id and every reference to one: id="x", url(#x), xlink:href="#x".
_ID_REF = re.compile(r'(\bid="|url\(#|href="#)([^")]+)')


def _to_svg(fig: Figure, *, key: str, alt: str) -> str:
    """The figure as an inline ``<svg>`` element with a title, a role and prefixed ids."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    # matplotlib's RDF metadata block says nothing a reader needs; drop it.
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.DOTALL)
    # Ids from matplotlib are unique per figure only; prefix them so charts do not collide.
    text = _ID_REF.sub(lambda m: f"{m.group(1)}{key}-{m.group(2)}", text)
    # Scale with the page: keep the viewBox, let CSS set the width.
    text = re.sub(r'<svg([^>]*?) width="[^"]+" height="[^"]+"', r"<svg\1", text, count=1)
    title = f'<title id="{key}-title">{escape(alt)}</title>'
    text = text.replace(
        "<svg",
        f'<svg class="chart-svg" role="img" aria-labelledby="{key}-title" data-chart="{key}"',
        1,
    )
    text = re.sub(r"(<svg[^>]*>)", r"\1" + title.replace("\\", "\\\\"), text, count=1)
    return text


def order_groups(by: str, groups) -> list[str]:
    """Groups in reading order: RoSH from low to very high, everything else alphabetical
    (months as YYYY-MM sort by time)."""
    groups = [str(g) for g in groups]
    if by == "rosh_level":
        rank = {level.value: i for i, level in enumerate(RoshLevel)}
        return sorted(groups, key=lambda g: (rank.get(g, len(rank)), g))
    return sorted(groups)


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height))


def _label_width(labels, *, size: float) -> float:
    """Inches the longest line of ``labels`` takes at ``size`` points, roughly (DejaVu Sans
    averages about 0.6 em a character), plus the tick and a little air."""
    longest = max((len(line) for label in labels for line in str(label).split("\n")), default=4)
    return longest * size * 0.6 / 72 + 0.2


def _layout(
    fig: Figure,
    *,
    left: float,
    right: float = 0.25,
    top: float = 0.3,
    bottom: float = 0.4,
    nrows: int = 1,
    ncols: int = 1,
    hgap: float = 0.0,
    wgap: float = 0.0,
) -> None:
    """Margins and gaps in inches. Fixed margins instead of matplotlib's constrained layout:
    the charts' text is predictable, and constrained layout was most of the drawing time."""
    width, height = fig.get_size_inches()
    cell_w = max((width - left - right - (ncols - 1) * wgap) / ncols, 0.5)
    cell_h = max((height - top - bottom - (nrows - 1) * hgap) / nrows, 0.3)
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        top=1 - top / height,
        bottom=bottom / height,
        wspace=wgap / cell_w if ncols > 1 else 0.2,
        hspace=hgap / cell_h if nrows > 1 else 0.2,
    )


def _whiskers(ax, y, est, lo, hi, *, color: str, hollow: bool = False, size: float = 5) -> None:
    """Points with interval whiskers along x; NaN intervals draw the point alone."""
    est, lo, hi = (np.asarray(v, dtype=float) for v in (est, lo, hi))
    y = np.asarray(y, dtype=float)
    has = ~(np.isnan(lo) | np.isnan(hi)) & ~np.isnan(est)
    if has.any():
        ax.errorbar(
            est[has],
            y[has],
            xerr=[np.clip(est[has] - lo[has], 0, None), np.clip(hi[has] - est[has], 0, None)],
            fmt="none",
            ecolor=color,
            elinewidth=1.4,
            capsize=2.5,
            zorder=2,
        )
    ok = ~np.isnan(est)
    ax.plot(
        est[ok],
        y[ok],
        linestyle="none",
        marker="o",
        markersize=size,
        markerfacecolor="white" if hollow else color,
        markeredgecolor=color,
        markeredgewidth=1.3,
        zorder=3,
    )


def _share_axis(ax) -> None:
    ax.xaxis.set_major_formatter(FuncFormatter(_pct))
    ax.grid(axis="x", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)


def headline_chart(rows: pd.DataFrame, *, labels: dict[str, str]) -> Chart:
    """Overall share measures, adjusted (filled) against raw (hollow), with 95% whiskers.
    The raw marker is drawn only where the figure was adjusted (elsewhere they are one)."""
    rows = rows.reset_index(drop=True)
    n = len(rows)
    fig = _figure(10, 0.8 + 0.36 * n)
    names = [_tick(labels.get(m, m)) for m in rows["measure"]]
    _layout(fig, left=_label_width(names, size=9), top=0.35, bottom=0.35)
    ax = fig.add_subplot()
    y = np.arange(n)[::-1].astype(float)
    adjusted = rows["adjusted"].to_numpy(dtype=bool)
    offset = np.where(adjusted, 0.14, 0.0)
    raw = rows[adjusted]
    _whiskers(
        ax,
        y[adjusted] - 0.14,
        raw["raw_estimate"],
        raw["raw_lower"],
        raw["raw_upper"],
        color=RAW,
        hollow=True,
    )
    _whiskers(ax, y + offset, rows["estimate"], rows["lower"], rows["upper"], color=ADJUSTED)
    ax.set_yticks(y, names)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.6, n - 0.4)
    _share_axis(ax)
    ax.plot([], [], "o", color=ADJUSTED, label="estimate reported (adjusted where marked)")
    if adjusted.any():
        ax.plot(
            [], [], "o", markerfacecolor="white", color=RAW, label="raw share of predicted labels"
        )
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2, fontsize=8)
    alt = "Headline measures with 95% intervals: " + "; ".join(
        f"{labels.get(k, k)} {_pct(e)}"
        for k, e in zip(rows["measure"], rows["estimate"], strict=True)
        if not math.isnan(e)
    )
    return Chart(
        "headline",
        _to_svg(fig, key="headline", alt=alt),
        "Headline measures, all entries. Filled: the estimate reported (corrected for classifier "
        "error where the figure is adjusted); hollow: the raw share of predicted labels. "
        "Whiskers: 95% intervals.",
        alt,
    )


def group_chart(
    measures: pd.DataFrame,
    *,
    by: str,
    panels: Sequence[str],
    labels: dict[str, str],
    overall: dict[str, float],
    title_by: str,
    threshold: int = 10,
) -> Chart | None:
    """One panel per measure, one row per group, whiskers for the 95% interval and a dashed
    line at the overall figure. Suppressed groups are left out (the table says why)."""
    frame = measures[(measures["by"] == by) & measures["category"].isna()]
    panels = [p for p in panels if (frame["measure"] == p).any()]
    groups = order_groups(by, frame["group"].dropna().unique())
    if not panels or not groups:
        return None
    # A group hidden in every panel is named, with the reason, rather than silently blank.
    shown = set(frame.loc[~frame["suppressed"] & frame["measure"].isin(panels), "group"])
    names = [g if g in shown else f"{g} (n < {threshold}, not shown)" for g in groups]
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    height = max(1.6, 0.5 + 0.2 * len(groups)) * nrows + 0.3
    fig = _figure(10, height)
    _layout(
        fig,
        left=_label_width(names, size=8),
        top=0.3,
        bottom=0.3,
        nrows=nrows,
        ncols=ncols,
        hgap=0.55,
        wgap=0.45,  # room for tick labels and the next row's titles
    )
    axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False)
    y_of = {g: i for i, g in enumerate(groups[::-1])}
    for i, measure in enumerate(panels):
        ax = axes[i // ncols][i % ncols]
        rows = frame[(frame["measure"] == measure) & ~frame["suppressed"]]
        y = rows["group"].map(y_of)
        _whiskers(ax, y, rows["estimate"], rows["lower"], rows["upper"], color=ADJUSTED, size=4)
        if measure in overall and not math.isnan(overall[measure]):
            ax.axvline(overall[measure], color=ACCENT, linestyle="--", linewidth=1)
        ax.set_title(_tick(labels.get(measure, measure)), fontsize=9)
        ax.set_xlim(0, 1)
        _share_axis(ax)
        ax.set_yticks(range(len(groups)), [_tick(x) for x in names[::-1]])
        ax.set_ylim(-0.7, len(groups) - 0.3)
        ax.tick_params(axis="y", labelsize=8)
        ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0%", "", "50%", "", "100%"])
    for j in range(len(panels), nrows * ncols):
        axes[j // ncols][j % ncols].set_visible(False)
    key = f"by-{by}"
    alt = (
        f"{len(panels)} measures by {title_by} for {len(groups)} groups, each with its 95% "
        "interval; the dashed line marks the overall figure."
    )
    return Chart(
        key,
        _to_svg(fig, key=key, alt=alt),
        f"Measures by {title_by}: dot = estimate, whiskers = 95% interval, dashed line = all "
        f"{title_by}s together. Groups with fewer than the suppression threshold are not drawn.",
        alt,
    )


def trend_chart(
    measures: pd.DataFrame, *, panels: Sequence[str], labels: dict[str, str]
) -> Chart | None:
    """Monthly trends: a line for the estimate and a band for its 95% interval."""
    frame = measures[(measures["by"] == "month") & measures["category"].isna()]
    panels = [p for p in panels if (frame["measure"] == p).any()]
    months = sorted(frame["group"].dropna().unique())
    if not panels or not months:
        return None
    ncols = min(2, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = _figure(10, 2.3 * nrows + 0.2)
    _layout(fig, left=0.5, top=0.3, bottom=0.35, nrows=nrows, ncols=ncols, hgap=0.45, wgap=0.6)
    axes = fig.subplots(nrows, ncols, sharex=True, squeeze=False)
    step = max(1, math.ceil(len(months) / 8))
    for i, measure in enumerate(panels):
        ax = axes[i // ncols][i % ncols]
        rows = (
            frame[frame["measure"] == measure]
            .set_index("group")
            .reindex(months)  # suppressed or absent months show as gaps, not as zero
        )
        x = np.arange(len(months))
        est = rows["estimate"].to_numpy(dtype=float)
        ax.fill_between(
            x,
            rows["lower"].to_numpy(dtype=float),
            rows["upper"].to_numpy(dtype=float),
            color=ADJUSTED,
            alpha=0.15,
            linewidth=0,
        )
        ax.plot(x, est, color=ADJUSTED, marker="o", markersize=3, linewidth=1.5)
        ax.set_title(_tick(labels.get(measure, measure)), fontsize=9)
        ax.set_ylim(0, 1)
        ax.yaxis.set_major_formatter(FuncFormatter(_pct))
        ax.grid(axis="y", color=GRID, linewidth=0.8)
        ax.set_axisbelow(True)
        ax.set_xticks(x[::step], [months[k] for k in x[::step]], rotation=0, fontsize=8)
    for j in range(len(panels), nrows * ncols):
        axes[j // ncols][j % ncols].set_visible(False)
    alt = f"Monthly trends of {len(panels)} measures over {len(months)} months with 95% bands."
    return Chart(
        "trends",
        _to_svg(fig, key="trends", alt=alt),
        "Monthly trends: line = estimate, band = 95% interval. Gaps are months with fewer "
        "entries than the suppression threshold.",
        alt,
    )


def type_mix_chart(mix: pd.DataFrame, defensive: pd.DataFrame) -> Chart | None:
    """Left: share of entries by oversight type. Right: the defensive share within each type."""
    if mix.empty and defensive.empty:
        return None
    order = list(dict.fromkeys([*mix["category"].dropna(), *defensive["category"].dropna()]))
    fig = _figure(10, 0.9 + 0.38 * len(order))
    _layout(fig, left=_label_width(order, size=9), top=0.3, bottom=0.35, ncols=2, wgap=0.35)
    axes = fig.subplots(1, 2, sharey=True, squeeze=False)[0]
    y = np.arange(len(order))[::-1].astype(float)
    y_of = dict(zip(order, y, strict=True))
    for ax, frame, title in (
        (axes[0], mix, "Share of entries by oversight type"),
        (axes[1], defensive, "Defensive share within each type"),
    ):
        frame = frame[~frame["suppressed"]]
        ys = frame["category"].map(y_of).to_numpy(dtype=float)
        est = frame["estimate"].to_numpy(dtype=float)
        ax.barh(ys, est, height=0.6, color=ADJUSTED, alpha=0.85, zorder=2)
        lo, hi = frame["lower"].to_numpy(dtype=float), frame["upper"].to_numpy(dtype=float)
        has = ~(np.isnan(lo) | np.isnan(hi))
        ax.errorbar(
            est[has],
            ys[has],
            xerr=[np.clip(est[has] - lo[has], 0, None), np.clip(hi[has] - est[has], 0, None)],
            fmt="none",
            ecolor=TEXT,
            elinewidth=1,
            capsize=2.5,
            zorder=3,
        )
        ax.set_title(title, fontsize=9)
        ax.set_xlim(
            0, 1 if ax is axes[1] else max(0.1, min(1.0, float(np.nanmax(hi, initial=0.1)) * 1.15))
        )
        _share_axis(ax)
    axes[0].set_yticks(y, [_tick(x) for x in order])
    alt = "Type mix: share of oversight entries by type and the defensive share within each type."
    return Chart(
        "type-mix",
        _to_svg(fig, key="type-mix", alt=alt),
        "Type mix (bars) with 95% intervals (whiskers), and how defensive each type is.",
        alt,
    )


def delay_chart(delays: pd.DataFrame, *, window: int, cap: int = 30) -> Chart | None:
    """Histogram of days from a risk event to the first risk/enforcement oversight entry,
    with a bar for events that drew no response and a line at the response window."""
    frame = delays[(delays["by"] == "overall")]
    if frame.empty or frame["count"].sum() == 0:
        return None
    answered = frame[frame["delay_days"].notna()]
    days = answered["delay_days"].clip(upper=cap).astype(int)
    counts = answered.groupby(days)["count"].sum().reindex(range(cap + 1), fill_value=0)
    none = float(frame.loc[frame["delay_days"].isna(), "count"].sum())
    total = float(frame["count"].sum())
    fig = _figure(10, 3.0)
    _layout(fig, left=0.75, top=0.15, bottom=0.75)
    ax = fig.add_subplot()
    x = np.arange(cap + 1)
    colours = [ADJUSTED if d <= window else "#6b8fc7" for d in x]
    ax.bar(x, counts.to_numpy() / total, width=0.8, color=colours, zorder=2)
    ax.bar([cap + 2.5], [none / total], width=1.6, color=ACCENT, zorder=2)
    ax.axvline(window + 0.5, color=TEXT, linestyle="--", linewidth=1)
    ax.text(window + 0.7, ax.get_ylim()[1] * 0.95, f"{window}-day window", va="top", fontsize=8)
    ticks = [*range(0, cap, 5), cap, cap + 2.5]
    ax.set_xticks(ticks, [*map(str, range(0, cap, 5)), f"{cap}+", "no\nresponse"])
    ax.yaxis.set_major_formatter(FuncFormatter(_pct))
    ax.set_ylabel("share of risk events")
    ax.set_xlabel("days from risk event to the first risk or enforcement oversight entry")
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    within = float(counts.iloc[: window + 1].sum()) / total
    alt = (
        f"Distribution of delays over {int(total)} risk events: {within:.0%} answered within "
        f"{window} days, {none / total:.0%} with no response."
    )
    return Chart(
        "delays",
        _to_svg(fig, key="delays", alt=alt),
        f"Days from each risk event to the first risk or enforcement oversight entry, all "
        f"events (n = {int(total):,}). Bars left of the dashed line fall within the {window}-day "
        f"window; delays over {cap} days are pooled; red: no response within the look-ahead.",
        alt,
    )


def comparison_chart(comparisons: pd.DataFrame, *, labels: dict[str, str]) -> Chart | None:
    """Differences in shares (a - b) with 95% whiskers around a zero line. Only the measures
    without a category are drawn (the table beside it lists every comparison), and only shares:
    a difference in days has another scale."""
    frame = comparisons[
        ~comparisons["suppressed"]
        & comparisons["difference"].notna()
        & comparisons["category"].isna()
        & (comparisons["measure"] != "median_response_delay_days")
    ]
    if frame.empty:
        return None
    frame = frame.reset_index(drop=True)
    names = [
        _tick(f"{labels.get(m, m)}\n{comp}")
        for m, comp in zip(frame["measure"], frame["comparison"], strict=True)
    ]
    fig = _figure(10, 0.8 + 0.42 * len(frame))
    _layout(fig, left=_label_width(names, size=8), top=0.2, bottom=0.6)
    ax = fig.add_subplot()
    y = np.arange(len(frame))[::-1].astype(float)
    _whiskers(ax, y, frame["difference"], frame["lower"], frame["upper"], color=ADJUSTED)
    ax.axvline(0, color=TEXT, linewidth=1)
    ax.set_yticks(y, names, fontsize=8)
    ax.set_ylim(-0.7, len(frame) - 0.3)
    ax.xaxis.set_major_formatter(
        FuncFormatter(lambda v, _p: "0" if abs(v) < 1e-9 else f"{v * 100:+.0f} pts")
    )
    ax.grid(axis="x", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    span = float(np.nanmax(np.abs(frame[["lower", "upper", "difference"]].to_numpy(dtype=float))))
    span = max(0.05, span * 1.1) if not math.isnan(span) else 0.5
    ax.set_xlim(-span, span)
    ax.set_xlabel("difference, group a minus group b (percentage points)")
    alt = f"{len(frame)} comparisons as differences with 95% intervals around zero."
    return Chart(
        "comparisons",
        _to_svg(fig, key="comparisons", alt=alt),
        "Comparisons of shares: each dot is group a minus group b, whiskers its 95% interval. An "
        "interval that crosses zero is compatible with no difference. The table lists every "
        "comparison, by type and in days too.",
        alt,
    )


def draw(fn, *args, **kwargs):
    """Call a chart function under the report's matplotlib style."""
    with rc_context(_RC):
        return fn(*args, **kwargs)
