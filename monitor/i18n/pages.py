"""What pages, reminders and other messages to officers say (monitor.paging.templates)."""

ID: dict[str, str] = {
    "alert.tag.page": "GANGGUAN", "alert.tag.reminder": "PENGINGAT", "alert.tag.resolved": "PULIH",
    "alert.tag.blind": "PEMANTAUAN TERGANGGU", "alert.tag.blind_over": "PEMANTAUAN NORMAL",
    "alert.tag.self": "PEMANTAUAN BERMASALAH", "alert.tag.self_over": "PEMANTAUAN PULIH",
    "alert.tag.digest": "GANGGUAN", "alert.tag.mass": "GANGGUAN MASSAL",
    "alert.tag.still_down": "MASIH GANGGUAN",
    "alert.lead.still_down": "{service} masih tidak dapat diakses setelah {held} berakhir. "
                             "Gangguan sejak {since}.",
    "alert.held.maintenance": "jendela pemeliharaan", "alert.held.silence": "masa senyap",
    "alert.digest.title": "+{count} layanan lain di {group}",
    "alert.digest.everywhere": "beberapa grup",
    "alert.lead.digest": "{service} juga tidak dapat diakses, dalam insiden yang sama "
                         "(sejak {since}).",
    "alert.lead.mass": "Sejak {since}, banyak layanan tidak dapat diakses sekaligus: "
                       "{service}. Satu insiden untuk semuanya; pemberitahuan per grup ditahan.",
    "alert.mass.title": "{count} layanan di {groups} grup",
    "alert.capped.title": "SIAGA: {count} pemberitahuan lain",
    "alert.capped.body": "{count} pemberitahuan lain untuk Anda ditahan sejak {since} karena "
                         "batas {limit} pesan per jam di saluran ini. Semuanya tercatat; "
                         "lihat {url}",
    "alert.lead.self": "Sejak {since}, Siaga tidak dapat memantau sebagian layanan. Selama "
                       "itu gangguan pada layanan tersebut tidak akan terdeteksi.",
    "alert.lead.self_over": "Siaga kembali memantau semua layanan (bermasalah sejak {since}).",
    "alert.tag.flapping": "TIDAK STABIL", "alert.tag.stable": "STABIL",
    "alert.tag.acknowledged": "DITANGANI",
    "alert.lead.page": "{service} tidak dapat diakses sejak {since}.",
    "alert.lead.reminder": "{service} masih belum dapat diakses. Gangguan sejak {since}.",
    "alert.lead.resolved": "{service} sudah normal kembali. Gangguan sejak {since}, "
                           "lamanya {duration}.",
    "alert.lead.blind": "Pemantauan dari {service} terganggu sejak {since}. Kondisi layanan "
                        "belum dapat dipastikan, jadi notifikasi gangguan ditahan dulu.",
    "alert.lead.blind_over": "Pemantauan dari {service} berjalan normal lagi "
                             "(terganggu sejak {since}).",
    "alert.lead.flapping": "{service} berganti-ganti antara normal dan gangguan sejak {since}. "
                           "Notifikasi ditahan sampai kondisinya stabil.",
    "alert.lead.stable": "{service} sudah stabil kembali (tidak stabil sejak {since}).",
    "alert.lead.acknowledged": "Gangguan pada {service} sejak {since} sudah dikonfirmasi "
                               "dan sedang ditangani oleh {acked_by}.",
    "alert.tag.page.alert": "PERINGATAN",
    "alert.lead.page.alert": "Peringatan dari Alertmanager: {service}, aktif sejak {since}.",
    "alert.lead.reminder.alert": "Peringatan {service} masih aktif. Aktif sejak {since}.",
    "alert.lead.resolved.alert": "Peringatan {service} sudah selesai. Aktif sejak {since}, "
                                 "lamanya {duration}.",
    "alert.lead.page.heartbeat": "Tugas terjadwal {service} tidak melapor sejak {since}.",
    "alert.lead.reminder.heartbeat": "Tugas terjadwal {service} masih belum melapor. "
                                     "Ditunggu sejak {since}.",
    "alert.lead.resolved.heartbeat": "Tugas terjadwal {service} sudah melapor lagi. "
                                     "Tidak melapor sejak {since}, lamanya {duration}.",
    "alert.reason": "Gejala: {value}", "alert.on_duty": "Petugas piket: {value}",
    "alert.acked_by": "Ditangani oleh: {value}", "alert.note": "Catatan: {value}",
    "alert.affected": "Layanan lain yang terdampak: {value}",
    "alert.more": "{names}, dan {count} lainnya",
    "alert.escalation": "Eskalasi tahap {step}: belum ada yang menangani insiden ini.",
    "alert.round": "Putaran eskalasi ke-{round}.",
    "alert.ack_link": "Konfirmasi, saya tangani: {value}",
    "alert.status_link": "Halaman status: {value}",
    "alert.incident": "Insiden #{value}", "alert.unknown": "tidak diketahui",
    "alert.sms.since": "Sejak {value}.", "alert.sms.on_duty": "Piket: {value}.",
    "alert.sms.affected": "+{value} layanan lain.", "alert.sms.ack": "Tangani: {value}",
    "alert.sms.duration": "Lama {value}.", "alert.sms.acked_by": "Oleh {value}.",
    "duration.day": "{n} hari", "duration.hour": "{n} jam", "duration.minute": "{n} menit",
    "duration.short": "{d}h {h}j {m}m", "duration.under_minute": "kurang dari 1 menit",
}
EN: dict[str, str] = {
    "alert.tag.page": "DOWN", "alert.tag.reminder": "REMINDER", "alert.tag.resolved": "RESOLVED",
    "alert.tag.blind": "MONITORING BLIND", "alert.tag.blind_over": "MONITORING RESTORED",
    "alert.tag.self": "MONITORING PROBLEM", "alert.tag.self_over": "MONITORING RESTORED",
    "alert.tag.digest": "DOWN", "alert.tag.mass": "MASS OUTAGE",
    "alert.tag.still_down": "STILL DOWN",
    "alert.lead.still_down": "{service} is still unreachable now that the {held} has ended. "
                             "Down since {since}.",
    "alert.held.maintenance": "maintenance window", "alert.held.silence": "silence",
    "alert.digest.title": "+{count} more services in {group}",
    "alert.digest.everywhere": "several groups",
    "alert.lead.digest": "{service} are also unreachable, in the same incident "
                         "(since {since}).",
    "alert.lead.mass": "Since {since}, many services have been unreachable at once: "
                       "{service}. One incident for all of them; per-group pages are held.",
    "alert.mass.title": "{count} services in {groups} groups",
    "alert.capped.title": "SIAGA: {count} more updates",
    "alert.capped.body": "{count} more updates for you were held since {since}: this channel "
                         "allows {limit} messages an hour. All are recorded; see {url}",
    "alert.lead.self": "Since {since}, Siaga cannot watch some services: an outage of those "
                       "would go unnoticed.",
    "alert.lead.self_over": "Siaga watches every service again (problem since {since}).",
    "alert.tag.flapping": "FLAPPING", "alert.tag.stable": "STABLE",
    "alert.tag.acknowledged": "ACKNOWLEDGED",
    "alert.lead.page": "{service} has been unreachable since {since}.",
    "alert.lead.reminder": "{service} is still down. Down since {since}.",
    "alert.lead.resolved": "{service} is back up. Down since {since}, for {duration}.",
    "alert.lead.blind": "Monitoring from {service} has been blind since {since}. Service "
                        "states cannot be trusted, so outage pages are held back.",
    "alert.lead.blind_over": "Monitoring from {service} works again (blind since {since}).",
    "alert.lead.flapping": "{service} keeps switching between up and down since {since}. "
                           "Pages are held until it settles.",
    "alert.lead.stable": "{service} has settled (flapping since {since}).",
    "alert.lead.acknowledged": "{acked_by} has acknowledged the outage of {service}, "
                               "down since {since}, and is handling it.",
    "alert.tag.page.alert": "ALERT",
    "alert.lead.page.alert": "Alert from Alertmanager: {service}, firing since {since}.",
    "alert.lead.reminder.alert": "The alert {service} is still firing. Firing since {since}.",
    "alert.lead.resolved.alert": "The alert {service} has resolved. Firing since {since}, "
                                 "for {duration}.",
    "alert.lead.page.heartbeat": "The scheduled job {service} has not reported since {since}.",
    "alert.lead.reminder.heartbeat": "The scheduled job {service} has still not reported. "
                                     "Waiting since {since}.",
    "alert.lead.resolved.heartbeat": "The scheduled job {service} reports again. "
                                     "Silent since {since}, for {duration}.",
    "alert.reason": "Reason: {value}", "alert.on_duty": "On duty: {value}",
    "alert.acked_by": "Handled by: {value}", "alert.note": "Note: {value}",
    "alert.affected": "Also affected: {value}", "alert.more": "{names} and {count} more",
    "alert.escalation": "Escalation step {step}: nobody has acknowledged yet.",
    "alert.round": "Escalation round {round}.",
    "alert.ack_link": "Acknowledge: {value}", "alert.status_link": "Status page: {value}",
    "alert.incident": "Incident #{value}", "alert.unknown": "unknown",
    "alert.sms.since": "Since {value}.", "alert.sms.on_duty": "On duty: {value}.",
    "alert.sms.affected": "+{value} more.", "alert.sms.ack": "Ack: {value}",
    "alert.sms.duration": "For {value}.", "alert.sms.acked_by": "By {value}.",
    "duration.day": "{n} d", "duration.hour": "{n} h", "duration.minute": "{n} min",
    "duration.short": "{d}d {h}h {m}m", "duration.under_minute": "under a minute",
}
