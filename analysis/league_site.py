"""The league's leaderboard site: one ``index.html`` that opens from ``file://``, no server.

Read from files only: the match table (``analysis.formats``) and the replays' index written
beside their GIFs (``replays/replays.json``). The page holds the ranking (Bradley–Terry rating
with its 95% bootstrap interval, ELO as the HF leaderboard computes it, games, W/D/L, kind and
source), a panel per player with its matches (open it from the ranking), and the replays of
the top players' games. The data is embedded as JSON and drawn by a small script, so the
page works offline; the script marks ``<body data-ready>`` when it has drawn everything and
each replay ``data-loaded`` when its image decoded (what the browser test reads).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.formats import LEAGUE_REPLAYS, read_matches, read_players
from analysis.ratings import rating_table

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 1.5rem; }}
th, td {{ padding: .3rem .6rem; border-bottom: 1px solid #ddd; text-align: right; }}
th:nth-child(2), td:nth-child(2), td.text {{ text-align: left; }}
tr.player-row {{ cursor: pointer; }}
tr.player-row:hover {{ background: #f3f6ff; }}
#player-panel {{ border: 1px solid #ccd; border-radius: 6px; padding: 1rem; display: none; }}
.replays {{ display: flex; flex-wrap: wrap; gap: 1rem; }}
figure {{ margin: 0; }} figure img {{ max-width: 32rem; border: 1px solid #ccc; }}
small {{ color: #666; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p><small>{summary}</small></p>
<h2>Ranking</h2>
<table id="ranking">
<thead><tr><th>#</th><th>player</th><th>rating (BT)</th><th>95% interval</th><th>ELO</th>
<th>Nash avg</th><th>α-Rank</th><th>games</th><th>W / D / L</th><th>kind</th><th>source</th>
</tr></thead>
<tbody></tbody>
</table>
<p id="legend"><small><b>BT</b>: Bradley–Terry strength on the ELO scale, with its bootstrap
interval over games; it assumes a transitive order and counts every opponent once.
<b>Nash avg</b>: expected score margin against the maximum-entropy Nash mixture of the pool
(0 for its members, below 0 for players it beats); copies of a player do not change it.
<b>α-Rank</b>: share of time an evolutionary process spends on the player; a cycle shares it.
Where BT's order and these disagree, the pool is redundant or cyclic: trust the last two.
</small></p>
<div id="player-panel"><h2 id="player-name"></h2>
<table id="player-matches"><thead><tr><th>team</th><th>opponent</th><th>W</th><th>D</th>
<th>L</th><th>games</th></tr></thead><tbody></tbody></table></div>
<h2>Replays</h2>
<div class="replays" id="replays"></div>
<script id="league-data" type="application/json">{data}</script>
<script>
const data = JSON.parse(document.getElementById("league-data").textContent);
const cell = (text, cls) => {{
  const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls;
  return td;
}};
function showPlayer(name) {{
  document.getElementById("player-panel").style.display = "block";
  document.getElementById("player-name").textContent = name;
  const body = document.querySelector("#player-matches tbody");
  body.replaceChildren();
  for (const m of data.matches) {{
    if (m.player0 !== name && m.player1 !== name) continue;
    const first = m.player0 === name;
    const tr = document.createElement("tr");
    tr.className = "match-row";
    tr.append(cell(first ? "0" : "1"), cell(first ? m.player1 : m.player0, "text"),
              cell(first ? m.wins0 : m.wins1), cell(m.draws), cell(first ? m.wins1 : m.wins0),
              cell(m.games));
    body.append(tr);
  }}
}}
const ranking = document.querySelector("#ranking tbody");
data.ranking.forEach((r, i) => {{
  const tr = document.createElement("tr");
  tr.className = "player-row"; tr.dataset.player = r.name;
  const interval = r.bt_low === null ? "" : `${{r.bt_low.toFixed(0)}} – ${{r.bt_high.toFixed(0)}}`;
  const wdl = `${{r.wins}} / ${{r.draws}} / ${{r.losses}}`;
  tr.append(cell(i + 1), cell(r.name, "text"), cell(r.bt.toFixed(0)), cell(interval),
            cell(r.elo.toFixed(0)), cell(r.nash.toFixed(3)), cell(r.alpharank.toFixed(3)),
            cell(r.games), cell(wdl),
            cell(r.kind || "", "text"), cell(r.source || "", "text"));
  tr.addEventListener("click", () => showPlayer(r.name));
  ranking.append(tr);
}});
const replays = document.getElementById("replays");
for (const r of data.replays) {{
  const fig = document.createElement("figure");
  fig.className = "replay";
  const img = document.createElement("img");
  img.alt = `${{r.player0}} vs ${{r.player1}}`;
  img.addEventListener("load", () => {{ if (img.naturalWidth > 0) fig.dataset.loaded = "1"; }});
  img.src = r.file;
  const cap = document.createElement("figcaption");
  cap.textContent = `${{r.player0}} (team 0) vs ${{r.player1}} (team 1): ` +
    `${{r.result.wins0}}/${{r.result.draws}}/${{r.result.wins1}} in ${{r.steps}} decisions`;
  fig.append(img, cap);
  replays.append(fig);
}}
if (data.ranking.length) showPlayer(data.ranking[0].name);
document.body.dataset.ready = "1";
</script>
</body>
</html>
"""


def league_data(db: str | Path, env_name: str, out_dir: str | Path) -> dict[str, Any]:
    """What the page shows: ranking rows, the matches and the replays."""
    matches = read_matches(db, env_name)
    players = read_players(db)
    players = players[players["env"] == env_name]
    names = sorted(players["name"])
    table = rating_table(matches, names) if names else pd.DataFrame()
    facts = players.set_index("name")
    ranking = []
    for row in table.itertuples(index=False):
        ranking.append(
            {
                "name": row.name,
                "bt": float(row.bt),
                "bt_low": float(row.bt_low) if "bt_low" in table else None,
                "bt_high": float(row.bt_high) if "bt_high" in table else None,
                "elo": float(row.elo),
                "nash": float(row.nash),
                "alpharank": float(row.alpharank),
                "games": int(row.games),
                "wins": int(row.wins),
                "draws": int(row.draws),
                "losses": int(row.losses),
                "kind": _text(facts.loc[row.name, "kind"]),
                "source": _text(facts.loc[row.name, "source"]),
            }
        )
    columns = ["player0", "player1", "wins0", "draws", "wins1", "games"]
    replay_file = Path(out_dir) / LEAGUE_REPLAYS
    replays = json.loads(replay_file.read_text()) if replay_file.exists() else []
    return {
        "env": env_name,
        "ranking": ranking,
        "matches": matches[columns].to_dict("records"),
        "replays": [r for r in replays if (Path(out_dir) / r["file"]).exists()],
    }


def _text(value: Any) -> str | None:
    """A text cell of the players table (SQLite NULL reads as NaN): JSON has no NaN."""
    return None if pd.isna(value) else str(value)


def write_site(db: str | Path, env_name: str, out_dir: str | Path) -> Path:
    """Write ``out_dir/index.html`` (atomically); returns its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = league_data(db, env_name, out)
    games = sum(m["games"] for m in data["matches"])
    summary = (
        f"{len(data['ranking'])} players, {len(data['matches'])} matches, {games} games. "
        "Rating: Bradley–Terry fit on every game (ELO scale, 95% bootstrap interval); ELO: "
        "start 1200, one update per game result (1 / 0.5 / 0), K = 16, in the order played."
    )
    # "</" must not end the embedded JSON's script element early
    payload = json.dumps(data, default=str, allow_nan=False).replace("</", "<\\/")
    page = PAGE.format(
        title=html.escape(f"{env_name} league"), summary=html.escape(summary), data=payload
    )
    path = out / "index.html"
    tmp = out / ".index.html.tmp"
    tmp.write_text(page)
    tmp.replace(path)
    return path
