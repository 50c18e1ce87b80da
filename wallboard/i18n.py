"""Wallboard labels in several languages.

English is complete and is the fallback for every key another language lacks;
every shipped catalogue is complete too (a test keeps it so).
Placeholders in braces (``{t}``, ``{s}``, ``{age}``) are filled in by the page.
"""

from __future__ import annotations

from collections.abc import Mapping

ENGLISH: Mapping[str, str] = {
    "title": "Wallboard",
    "trend": "SL trend",
    "waiting": "Waiting",
    "longest_wait": "Longest wait",
    "expected_wait": "Expected wait",
    "sl_today": "Service level today",
    "sl_hour": "Last 60 min",
    "offered": "Offered",
    "answered": "Answered",
    "abandoned": "Abandoned",
    "timed_out": "Timed out",
    "lost": "To fallback",
    "asa": "ASA",
    "aht": "AHT",
    "median_wait": "Median wait",
    "occupancy": "Occupancy",
    "calls_per_agent": "Calls per agent",
    "vip": "VIP waiting",
    "agents": "Agents",
    "queue": "Queue",
    "totals": "All queues",
    "logged_in": "Logged in",
    "available": "Available",
    "ringing": "Ringing",
    "on_call": "On call",
    "wrap_up": "Wrap-up",
    "paused": "Paused",
    "logged_out": "Logged out",
    "unreachable": "Phone offline",
    "phone_busy": "On another call",
    "pending_pause": "Pause next",
    "pending_logout": "Logout next",
    "next_caller": "Next",
    "target": "target {t} s",
    "variant_default": "SL = answered ≤ {t} s ÷ (answered + abandoned after {s} s + timed out)",
    "variant_answered": "SL = answered ≤ {t} s ÷ answered",
    "variant_offered": "SL = answered ≤ {t} s ÷ offered",
    "variant_default_each": (
        "SL = answered within the queue's target ÷ (answered + abandoned after the short"
        " abandon time + timed out)"
    ),
    "variant_answered_each": "SL = answered within the queue's target ÷ answered",
    "variant_offered_each": "SL = answered within the queue's target ÷ offered",
    "sparkline": "Service level per 15 min, today",
    "legend_ok": "on target",
    "legend_warn": "warning",
    "legend_alarm": "alarm",
    "legend_flash": "flashing: live figures only",
    "page": "page {n}/{m}",
    "no_agents": "No agents logged in",
    "callbacks_waiting": "Callbacks waiting",
    "resolution_rate": "Resolved",
    "csat": "CSAT",
    "connecting": "Connecting…",
    "connection_lost": "Connection lost, data {age} old",
    "store_down": "Statistics unavailable, data {age} old",
    "sound": "Sound",
}

POLISH: Mapping[str, str] = {
    "title": "Tablica",
    "trend": "Trend PO",
    "waiting": "Oczekujące",
    "longest_wait": "Najdłuższe oczekiwanie",
    "expected_wait": "Przewidywane oczekiwanie",
    "sl_today": "Poziom obsługi dziś",
    "sl_hour": "Ostatnie 60 min",
    "offered": "Przychodzące",
    "answered": "Odebrane",
    "abandoned": "Porzucone",
    "timed_out": "Przekroczony czas",
    "lost": "Do kolejki awaryjnej",
    "asa": "Śr. czas odebrania",
    "aht": "Śr. czas obsługi",
    "median_wait": "Mediana oczekiwania",
    "occupancy": "Obłożenie",
    "calls_per_agent": "Rozmowy na konsultanta",
    "vip": "VIP czekający",
    "agents": "Konsultanci",
    "queue": "Kolejka",
    "totals": "Wszystkie kolejki",
    "logged_in": "Zalogowani",
    "available": "Dostępni",
    "ringing": "Dzwoni",
    "on_call": "W rozmowie",
    "wrap_up": "Po rozmowie",
    "paused": "Przerwa",
    "logged_out": "Wylogowani",
    "unreachable": "Telefon offline",
    "phone_busy": "Inna rozmowa",
    "pending_pause": "Przerwa wkrótce",
    "pending_logout": "Wylogowanie wkrótce",
    "next_caller": "Następny",
    "target": "cel {t} s",
    "variant_default": (
        "PO = odebrane ≤ {t} s ÷ (odebrane + porzucone po {s} s + przekroczony czas)"
    ),
    "variant_answered": "PO = odebrane ≤ {t} s ÷ odebrane",
    "variant_offered": "PO = odebrane ≤ {t} s ÷ przychodzące",
    "variant_default_each": (
        "PO = odebrane w celu kolejki ÷ (odebrane + porzucone po krótkim czasie"
        " + przekroczony czas)"
    ),
    "variant_answered_each": "PO = odebrane w celu kolejki ÷ odebrane",
    "variant_offered_each": "PO = odebrane w celu kolejki ÷ przychodzące",
    "sparkline": "Poziom obsługi co 15 min, dziś",
    "legend_ok": "w normie",
    "legend_warn": "ostrzeżenie",
    "legend_alarm": "alarm",
    "legend_flash": "miga: tylko bieżące wartości",
    "page": "strona {n}/{m}",
    "no_agents": "Brak zalogowanych konsultantów",
    "callbacks_waiting": "Oddzwonienia",
    "resolution_rate": "Rozwiązane",
    "csat": "Zadowolenie",
    "connecting": "Łączenie…",
    "connection_lost": "Utracono połączenie, dane sprzed {age}",
    "store_down": "Statystyki niedostępne, dane sprzed {age}",
    "sound": "Dźwięk",
}

ARABIC: Mapping[str, str] = {
    "title": "لوحة المعلومات",
    "trend": "اتجاه مستوى الخدمة",
    "waiting": "في الانتظار",
    "longest_wait": "أطول انتظار",
    "expected_wait": "الانتظار المتوقع",
    "sl_today": "مستوى الخدمة اليوم",
    "sl_hour": "آخر 60 دقيقة",
    "offered": "المكالمات الواردة",
    "answered": "تم الرد",
    "abandoned": "متروكة",
    "timed_out": "انتهت المهلة",
    "lost": "إلى الطابور الاحتياطي",
    "asa": "متوسط سرعة الرد",
    "aht": "متوسط وقت المعالجة",
    "median_wait": "وسيط الانتظار",
    "occupancy": "نسبة الإشغال",
    "calls_per_agent": "مكالمات لكل موظف",
    "vip": "كبار العملاء في الانتظار",
    "agents": "الموظفون",
    "queue": "الطابور",
    "totals": "كل الطوابير",
    "logged_in": "مسجلون",
    "available": "متاحون",
    "ringing": "يرن",
    "on_call": "في مكالمة",
    "wrap_up": "إنهاء المكالمة",
    "paused": "استراحة",
    "logged_out": "غير مسجلين",
    "unreachable": "الهاتف غير متصل",
    "phone_busy": "في مكالمة أخرى",
    "pending_pause": "استراحة لاحقًا",
    "pending_logout": "خروج لاحقًا",
    "next_caller": "التالي",
    "target": "الهدف {t} ث",
    "variant_default": (
        "مستوى الخدمة = المُجاب خلال {t} ث ÷ (المُجاب + المتروك بعد {s} ث + منتهي المهلة)"
    ),
    "variant_answered": "مستوى الخدمة = المُجاب خلال {t} ث ÷ المُجاب",
    "variant_offered": "مستوى الخدمة = المُجاب خلال {t} ث ÷ الوارد",
    "variant_default_each": (
        "مستوى الخدمة = المُجاب ضمن هدف الطابور ÷ (المُجاب + المتروك بعد المهلة القصيرة"
        " + منتهي المهلة)"
    ),
    "variant_answered_each": "مستوى الخدمة = المُجاب ضمن هدف الطابور ÷ المُجاب",
    "variant_offered_each": "مستوى الخدمة = المُجاب ضمن هدف الطابور ÷ الوارد",
    "sparkline": "مستوى الخدمة لكل 15 دقيقة، اليوم",
    "legend_ok": "ضمن الهدف",
    "legend_warn": "تحذير",
    "legend_alarm": "إنذار",
    "legend_flash": "الوميض: للأرقام الحية فقط",
    "page": "صفحة {n}/{m}",
    "no_agents": "لا يوجد موظفون مسجلون",
    "callbacks_waiting": "معاودة الاتصال",
    "resolution_rate": "تم الحل",
    "csat": "رضا العملاء",
    "connecting": "جارٍ الاتصال…",
    "connection_lost": "انقطع الاتصال، البيانات منذ {age}",
    "store_down": "الإحصاءات غير متاحة، البيانات منذ {age}",
    "sound": "الصوت",
}

RUSSIAN: Mapping[str, str] = {
    "title": "Табло",
    "trend": "Тренд УС",
    "waiting": "В очереди",
    "longest_wait": "Дольше всех ждёт",
    "expected_wait": "Ожидаемое ожидание",
    "sl_today": "Уровень сервиса сегодня",
    "sl_hour": "Последние 60 мин",
    "offered": "Поступило",
    "answered": "Отвечено",
    "abandoned": "Брошено",
    "timed_out": "Истекло время",
    "lost": "В резервную очередь",
    "asa": "Ср. время ответа",
    "aht": "Ср. время обработки",
    "median_wait": "Медиана ожидания",
    "occupancy": "Занятость",
    "calls_per_agent": "Звонков на оператора",
    "vip": "VIP в очереди",
    "agents": "Операторы",
    "queue": "Очередь",
    "totals": "Все очереди",
    "logged_in": "В системе",
    "available": "Свободны",
    "ringing": "Вызов",
    "on_call": "Разговор",
    "wrap_up": "Постобработка",
    "paused": "Перерыв",
    "logged_out": "Не в системе",
    "unreachable": "Телефон недоступен",
    "phone_busy": "Другой звонок",
    "pending_pause": "Скоро перерыв",
    "pending_logout": "Скоро выход",
    "next_caller": "Следующий",
    "target": "цель {t} с",
    "variant_default": (
        "УС = отвечено ≤ {t} с ÷ (отвечено + брошено после {s} с + истекло время)"
    ),
    "variant_answered": "УС = отвечено ≤ {t} с ÷ отвечено",
    "variant_offered": "УС = отвечено ≤ {t} с ÷ поступило",
    "variant_default_each": (
        "УС = отвечено в пределах цели очереди ÷ (отвечено + брошено после короткого"
        " порога + истекло время)"
    ),
    "variant_answered_each": "УС = отвечено в пределах цели очереди ÷ отвечено",
    "variant_offered_each": "УС = отвечено в пределах цели очереди ÷ поступило",
    "sparkline": "Уровень сервиса по 15 мин, сегодня",
    "legend_ok": "в норме",
    "legend_warn": "внимание",
    "legend_alarm": "тревога",
    "legend_flash": "мигают только текущие показатели",
    "page": "стр. {n}/{m}",
    "no_agents": "Нет операторов в системе",
    "callbacks_waiting": "Обратные звонки",
    "resolution_rate": "Решено",
    "csat": "Удовлетворённость",
    "connecting": "Подключение…",
    "connection_lost": "Связь потеряна, данным {age}",
    "store_down": "Статистика недоступна, данным {age}",
    "sound": "Звук",
}

CATALOGS: Mapping[str, Mapping[str, str]] = {
    "en": ENGLISH,
    "pl": POLISH,
    "ar": ARABIC,
    "ru": RUSSIAN,
}

RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur"})


def pick_language(
    requested: str | None, default: str, catalogs: Mapping[str, Mapping[str, str]] = CATALOGS
) -> str:
    """The first of ``requested`` and ``default`` we have labels for ("pl-PL" counts
    as "pl"); English otherwise."""
    for candidate in (requested, default):
        if not candidate:
            continue
        code = candidate.strip().lower().replace("_", "-").split("-")[0]
        if code in catalogs:
            return code
    return "en"


def translations(
    language: str, catalogs: Mapping[str, Mapping[str, str]] = CATALOGS
) -> dict[str, str]:
    """Every English key, in ``language`` where translated, in English otherwise."""
    labels = dict(ENGLISH)
    labels.update(catalogs.get(language, {}))
    return labels


def direction(language: str) -> str:
    """``rtl`` for right-to-left scripts, ``ltr`` otherwise."""
    return "rtl" if language in RTL_LANGUAGES else "ltr"
