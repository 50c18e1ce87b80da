"""Wallboard labels in several languages.

English is complete and is the fallback for every key another language lacks.
Placeholders in braces (``{t}``, ``{s}``, ``{age}``) are filled in by the page.
"""

from __future__ import annotations

from collections.abc import Mapping

ENGLISH: Mapping[str, str] = {
    "title": "Wallboard",
    "waiting": "Waiting",
    "longest_wait": "Longest wait",
    "sl_today": "Service level today",
    "sl_hour": "Last 60 min",
    "offered": "Offered",
    "answered": "Answered",
    "abandoned": "Abandoned",
    "asa": "ASA",
    "aht": "AHT",
    "median_wait": "Median wait",
    "agents": "Agents",
    "logged_in": "Logged in",
    "available": "Available",
    "ringing": "Ringing",
    "on_call": "On call",
    "wrap_up": "Wrap-up",
    "paused": "Paused",
    "logged_out": "Logged out",
    "unreachable": "Phone offline",
    "next_caller": "Next",
    "target": "target {t} s",
    "variant_default": "SL = answered ≤ {t} s ÷ (answered + abandoned after {s} s + timed out)",
    "variant_answered": "SL = answered ≤ {t} s ÷ answered",
    "variant_offered": "SL = answered ≤ {t} s ÷ offered",
    "sparkline": "Service level per 15 min, today",
    "no_agents": "No agents logged in",
    "connecting": "Connecting…",
    "connection_lost": "Connection lost, data {age} old",
    "store_down": "Statistics unavailable, data {age} old",
    "sound": "Sound",
}

POLISH: Mapping[str, str] = {
    "title": "Tablica",
    "waiting": "Oczekujące",
    "longest_wait": "Najdłuższe oczekiwanie",
    "sl_today": "Poziom obsługi dziś",
    "sl_hour": "Ostatnie 60 min",
    "offered": "Przychodzące",
    "answered": "Odebrane",
    "abandoned": "Porzucone",
    "asa": "Śr. czas odebrania",
    "aht": "Śr. czas obsługi",
    "median_wait": "Mediana oczekiwania",
    "agents": "Konsultanci",
    "logged_in": "Zalogowani",
    "available": "Dostępni",
    "ringing": "Dzwoni",
    "on_call": "W rozmowie",
    "wrap_up": "Po rozmowie",
    "paused": "Przerwa",
    "logged_out": "Wylogowani",
    "unreachable": "Telefon offline",
    "next_caller": "Następny",
    "target": "cel {t} s",
    "variant_default": (
        "PO = odebrane ≤ {t} s ÷ (odebrane + porzucone po {s} s + przekroczony czas)"
    ),
    "variant_answered": "PO = odebrane ≤ {t} s ÷ odebrane",
    "variant_offered": "PO = odebrane ≤ {t} s ÷ przychodzące",
    "sparkline": "Poziom obsługi co 15 min, dziś",
    "no_agents": "Brak zalogowanych konsultantów",
    "connecting": "Łączenie…",
    "connection_lost": "Utracono połączenie, dane sprzed {age}",
    "store_down": "Statystyki niedostępne, dane sprzed {age}",
    "sound": "Dźwięk",
}

ARABIC: Mapping[str, str] = {
    "title": "لوحة المعلومات",
    "waiting": "في الانتظار",
    "longest_wait": "أطول انتظار",
    "sl_today": "مستوى الخدمة اليوم",
    "sl_hour": "آخر 60 دقيقة",
    "offered": "المكالمات الواردة",
    "answered": "تم الرد",
    "abandoned": "متروكة",
    "asa": "متوسط سرعة الرد",
    "aht": "متوسط وقت المعالجة",
    "median_wait": "وسيط الانتظار",
    "agents": "الموظفون",
    "logged_in": "مسجلون",
    "available": "متاحون",
    "ringing": "يرن",
    "on_call": "في مكالمة",
    "wrap_up": "إنهاء المكالمة",
    "paused": "استراحة",
    "logged_out": "غير مسجلين",
    "unreachable": "الهاتف غير متصل",
    "next_caller": "التالي",
    "target": "الهدف {t} ث",
    "sparkline": "مستوى الخدمة لكل 15 دقيقة، اليوم",
    "no_agents": "لا يوجد موظفون مسجلون",
    "connecting": "جارٍ الاتصال…",
    "connection_lost": "انقطع الاتصال، البيانات منذ {age}",
    "store_down": "الإحصاءات غير متاحة، البيانات منذ {age}",
    "sound": "الصوت",
}

CATALOGS: Mapping[str, Mapping[str, str]] = {"en": ENGLISH, "pl": POLISH, "ar": ARABIC}

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
