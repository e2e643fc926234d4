"""The words of SLA reports (monitor.reporting.report)."""

ID: dict[str, str] = {
    "report.title": "Laporan ketersediaan layanan", "report.period": "Periode",
    "report.generated": "Dibuat", "report.total": "Total {group}",
    "report.yes": "ya", "report.no": "tidak",
    "report.col.group": "Kelompok", "report.col.check": "Nama pemeriksaan",
    "report.col.title": "Layanan", "report.col.uptime": "Ketersediaan (%)",
    "report.col.downtime": "Lama gangguan (menit)", "report.col.incidents": "Jumlah insiden",
    "report.col.mtta": "Rata-rata waktu tanggap (menit)",
    "report.col.mttr": "Rata-rata waktu pemulihan (menit)",
    "report.col.slo": "Target SLO (%)", "report.col.met": "Target tercapai",
    "report.col.coverage": "Cakupan data (%)",
    "report.coverage_full": "Cakupan data: semua layanan dipantau sepanjang periode.",
    "report.coverage_partial": "Cakupan data: {n} layanan tidak dipantau sepanjang periode "
                               "(ditambahkan belakangan atau pemantau tidak berjalan); angkanya "
                               "hanya mencakup waktu dengan data: {names}.",
    "report.note": "Ketersediaan dihitung menurut waktu; jendela pemeliharaan tidak dihitung. "
                   "Waktu tanggap/pemulihan: rerata menit dari gangguan dibuka sampai "
                   "ditangani/pulih.",
}
EN: dict[str, str] = {
    "report.title": "Service availability report", "report.period": "Period",
    "report.generated": "Generated", "report.total": "Total {group}",
    "report.yes": "yes", "report.no": "no",
    "report.col.group": "Group", "report.col.check": "Check name",
    "report.col.title": "Service", "report.col.uptime": "Uptime (%)",
    "report.col.downtime": "Downtime (minutes)", "report.col.incidents": "Incidents",
    "report.col.mtta": "Mean time to acknowledge (minutes)",
    "report.col.mttr": "Mean time to resolve (minutes)",
    "report.col.slo": "SLO objective (%)", "report.col.met": "SLO met",
    "report.col.coverage": "Data coverage (%)",
    "report.coverage_full": "Coverage: every service was watched for the whole period.",
    "report.coverage_partial": "Coverage: {n} service(s) were not watched for the whole "
                               "period (added later, or the monitor was not running); their "
                               "figures cover only the time with data: {names}.",
    "report.note": "Uptime is time-weighted; maintenance windows are not counted. "
                   "MTTA/MTTR: mean minutes from an incident opening to its acknowledgement "
                   "/ resolution.",
}
