"""The manager dashboard's words (monitor.web.dashboard, dashboard_render)."""

ID: dict[str, str] = {
    "dash.title": "Dasbor ketersediaan", "dash.refused": "Perlu token atau tautan",
    "dash.refused_text": "Halaman ini untuk internal. Buka dengan tautan bertanda tangan "
                         "dari `siaga dashboard-url`, atau kirim token API.",
    "dash.days": "{n} hari", "dash.slo": "Target", "dash.budget": "Sisa anggaran gangguan",
    "dash.incidents": "Insiden 30 hari", "dash.mtta": "Rata-rata tanggap",
    "dash.mttr": "Rata-rata pulih", "dash.latency": "Latensi 7 hari",
    "dash.latency_figs": "rata-rata {mean} · jam terburuk {worst}",
    "dash.no_latency": "belum ada data latensi", "dash.total": "Total kelompok",
    "dash.met": "memenuhi target", "dash.missed": "di bawah target",
    "dash.updated": "Dibuat", "dash.none": "—", "dash.overspent": "terlampaui",
}
EN: dict[str, str] = {
    "dash.title": "Availability dashboard", "dash.refused": "Token or link needed",
    "dash.refused_text": "This page is internal. Open it with a signed link from "
                         "`siaga dashboard-url`, or send the API token.",
    "dash.days": "{n} days", "dash.slo": "Objective", "dash.budget": "Error budget left",
    "dash.incidents": "Incidents 30 days", "dash.mtta": "Mean time to acknowledge",
    "dash.mttr": "Mean time to resolve", "dash.latency": "Latency 7 days",
    "dash.latency_figs": "mean {mean} · worst hour {worst}",
    "dash.no_latency": "no latency data yet", "dash.total": "Group total",
    "dash.met": "meets the objective", "dash.missed": "below the objective",
    "dash.updated": "Generated", "dash.none": "—", "dash.overspent": "overspent",
}
