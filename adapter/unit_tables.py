"""Unit tables: free-text aliases, unit families and per-analyte scales (CLINICAL-SPEC 6.2, 6.4).

A *family* is a set of units of one dimension with exact factors into the family's base unit
(mass concentration in g/L, amount concentration in mmol/L, counts in 10*9/L, ...): those
conversions are dimensional and exact. An analyte *scale* names the canonical unit and, per
family it accepts, the factor from the family's base unit into that canonical unit: `SAME` when
the canonical unit is itself in the family, or the analyte-specific factor from CLINICAL-SPEC
6.4 (TG mg/dL x 0.01129, fibrinogen umol/L / 2.94, ...). Analytes with two scales that must
never be converted into each other (sCD25 U/mL vs pg/mL, viral load IU vs copies) have two
`Scale`s; D-dimer FEU and DDU are two analytes whose unit annotation ({FEU}/{DDU}) is checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

F = Fraction

# --- Families: unit -> exact factor into the family base unit (first entry) -----------------
FAMILIES: dict[str, dict[str, Fraction]] = {
    "mass": {  # base g/L
        "g/L": F(1), "g/dL": F(10), "mg/mL": F(1), "mg/dL": F(1, 100), "mg/L": F(1, 1000),
        "ug/mL": F(1, 1000), "ug/dL": F(1, 10**5), "ug/L": F(1, 10**6), "ng/mL": F(1, 10**6),
        "ng/dL": F(1, 10**8), "ng/L": F(1, 10**9), "pg/mL": F(1, 10**9),
    },
    "molar": {  # base mmol/L
        "mmol/L": F(1), "mol/L": F(1000), "umol/L": F(1, 1000), "nmol/L": F(1, 10**6),
        "pmol/L": F(1, 10**9),
    },
    "count": {  # base 10*9/L; 10*3/uL = 10*9/L, /uL x 0.001 (6.4, FOUND)
        "10*9/L": F(1), "10*3/uL": F(1), "10*3/mm3": F(1), "/uL": F(1, 1000),
        "/mm3": F(1, 1000), "10*6/L": F(1, 1000), "10*12/L": F(1000), "10*6/uL": F(1000),
        "/L": F(1, 10**9),
    },
    "enzyme": {  # base U/L; U/L = IU/L, 1 ukat/L = 60 U/L (6.4, RECALLED; exact by definition)
        "U/L": F(1), "[IU]/L": F(1), "mU/mL": F(1), "ukat/L": F(60), "nkat/L": F(6, 100),
    },
    "arbitrary_u": {"[U]/mL": F(1), "U/mL": F(1), "kU/L": F(1), "k[U]/L": F(1)},  # sCD25
    "iu": {"[IU]/mL": F(1), "[IU]/L": F(1, 1000)},
    "copies": {"{copies}/mL": F(1), "{copies}/L": F(1, 1000)},
    "percent": {"%": F(1)},
    "rate": {"mm/h": F(1), "mm/(1.h)": F(1), "mm/[hr]": F(1)},
    "weight": {"kg": F(1), "g": F(1, 1000), "[lb_av]": F(45359237, 10**8)},  # 6.4 exact
}  # fmt: skip

# Temperature is affine: Cel = (value + offset) x factor (6.4: degC = (degF - 32) x 5/9).
TEMPERATURE: dict[str, tuple[Fraction, Fraction]] = {
    "Cel": (F(0), F(1)),
    "[degF]": (F(-32), F(5, 9)),
    "K": (F(-27315, 100), F(1)),
}

SAME = F(0)  # marker: the canonical unit belongs to this family, derive the factor


@dataclass(frozen=True, slots=True)
class Scale:
    """One measurement scale of an analyte: its canonical unit and the families it accepts."""

    name: str | None  # None for single-scale analytes; "U"/"mass", "IU"/"copies", "FEU"/"DDU"
    canonical: str
    families: dict[str, Fraction]  # family -> factor from the family base unit (or SAME)
    annotation: str | None = None  # FEU/DDU: a unit annotated otherwise is non-convertible


def _one(canonical: str, **families: Fraction) -> tuple[Scale, ...]:
    return (Scale(None, canonical, dict(families)),)


_VIRAL_IU = Scale("IU", "[IU]/mL", {"iu": SAME})
_VIRAL_COPIES = Scale("copies", "{copies}/mL", {"copies": SAME})

# analyte key -> scales, primary first (its canonical unit = AnalyteSpec.canonical_unit).
ANALYTE_SCALES: dict[str, tuple[Scale, ...]] = {
    # ng/mL = ug/L (FOUND); pmol/L: 1 ng/mL = 2.247 pmol/L (RECALLED) -> mmol/L x 10^12/2247.
    "ferritin": _one("ng/mL", mass=SAME, molar=F(10**12, 2247)),
    # mmol/L = mg/dL x 0.01129 -> 1 g/L = 1.129 mmol/L.
    "TG": _one("mmol/L", molar=SAME, mass=F(1129, 1000)),
    # g/L = mg/dL / 100; g/L = umol/L / 2.94 -> 1 mmol/L = 1000/2.94 g/L = 50000/147.
    "fibrinogen": _one("g/L", mass=SAME, molar=F(50000, 147)),
    "PLT": _one("10*9/L", count=SAME),
    "WBC": _one("10*9/L", count=SAME),
    "ANC": _one("10*9/L", count=SAME),
    "neutrophils_pct": _one("%", percent=SAME),
    # g/L = g/dL x 10; mmol/L = g/dL x 0.6206 -> 1 mmol/L = 10/0.6206 g/L = 50000/3103.
    "Hb": _one("g/L", mass=SAME, molar=F(50000, 3103)),
    "ALT": _one("U/L", enzyme=SAME),
    "AST": _one("U/L", enzyme=SAME),
    "LDH": _one("U/L", enzyme=SAME),
    # Two scales, never converted into each other (6.4, FOUND coexistence).
    "sCD25": (Scale("U", "[U]/mL", {"arbitrary_u": SAME}), Scale("mass", "pg/mL", {"mass": SAME})),
    "CRP": _one("mg/L", mass=SAME),
    "ESR": _one("mm/h", rate=SAME),
    "IFN-gamma": _one("pg/mL", mass=SAME),
    "CXCL9": _one("pg/mL", mass=SAME),
    "IL-18": _one("pg/mL", mass=SAME),
    "IL-6": _one("pg/mL", mass=SAME),
    "D-dimer_FEU": (Scale("FEU", "mg/L", {"mass": SAME}, "FEU"),),
    "D-dimer_DDU": (Scale("DDU", "ug/L", {"mass": SAME}, "DDU"),),
    "albumin": _one("g/L", mass=SAME),
    # 1 mg/dL = 17.1 umol/L (RECALLED) -> 1 g/L = 1710 umol/L.
    "bilirubin_total": _one("umol/L", molar=SAME, mass=F(1710)),
    "temperature": _one("Cel"),  # affine, see TEMPERATURE
    "body_weight": _one("kg", weight=SAME),
    "cmv_dna": (_VIRAL_IU, _VIRAL_COPIES),
    "cmv_dna_bal": (_VIRAL_COPIES, _VIRAL_IU),
    "ebv_dna": (_VIRAL_COPIES, _VIRAL_IU),
}

# --- Free-text unit aliases (6.2: "Normalise the text ... through a table") -----------------
# Looked up on a key with spaces removed, micro signs as "u", "x" for "×". Case matters only
# for these (G/L is giga-per-litre, a count; g/L is grams per litre):
CASE_SENSITIVE_ALIASES: dict[str, str] = {"G/L": "10*9/L", "T/L": "10*12/L", "K": "K"}


def _count_aliases() -> dict[str, str]:
    """'×10^9/L', '10^9/L', '10E9/L', 'x10*9/l', '10^3/uL', '10^3/mm3', ... (casefolded)."""
    aliases: dict[str, str] = {}
    denominators = {
        "9": ("/l",),
        "3": ("/ul", "/mm3", "/mm^3", "/cumm"),
        "12": ("/l",),
        "6": ("/l", "/ul"),
    }
    for exp, dens in denominators.items():
        for prefix in ("", "x", "*"):
            for power in (f"10^{exp}", f"10e{exp}", f"10*{exp}", f"10**{exp}"):
                for den in dens:
                    ucum_den = {"/l": "/L", "/ul": "/uL"}.get(den, "/mm3")
                    aliases[f"{prefix}{power}{den}"] = f"10*{exp}{ucum_den}"
    return aliases


CASEFOLD_ALIASES: dict[str, str] = {
    **_count_aliases(),
    "k/ul": "10*3/uL", "thou/ul": "10*3/uL", "/ul": "/uL", "cells/ul": "/uL", "个/ul": "/uL",
    "/mm3": "/mm3", "cells/mm3": "/mm3",
    "g/l": "g/L", "g/dl": "g/dL", "mg/ml": "mg/mL", "mg/dl": "mg/dL", "mg/l": "mg/L",
    "ug/ml": "ug/mL", "mcg/ml": "ug/mL", "ug/dl": "ug/dL", "ug/l": "ug/L", "mcg/l": "ug/L",
    "ng/ml": "ng/mL", "ng/dl": "ng/dL", "ng/l": "ng/L", "pg/ml": "pg/mL",
    "mmol/l": "mmol/L", "mol/l": "mol/L", "umol/l": "umol/L", "nmol/l": "nmol/L",
    "pmol/l": "pmol/L",
    "u/l": "U/L", "iu/l": "U/L", "[iu]/l": "[IU]/L", "mu/ml": "mU/mL", "ukat/l": "ukat/L",
    "nkat/l": "nkat/L",
    "u/ml": "U/mL", "[u]/ml": "[U]/mL", "ku/l": "kU/L", "k[u]/l": "k[U]/L",
    "iu/ml": "[IU]/mL", "[iu]/ml": "[IU]/mL",
    "copies/ml": "{copies}/mL", "copy/ml": "{copies}/mL", "cp/ml": "{copies}/mL",
    "cps/ml": "{copies}/mL", "{copies}/ml": "{copies}/mL", "拷贝/ml": "{copies}/mL",
    "copies/l": "{copies}/L",
    "%": "%", "percent": "%",
    "mm/h": "mm/h", "mm/hr": "mm/h", "mm/1h": "mm/h", "mm/(1.h)": "mm/h", "mm/[hr]": "mm/h",
    "cel": "Cel", "°c": "Cel", "degc": "Cel", "摄氏度": "Cel",
    "°f": "[degF]", "degf": "[degF]", "[degf]": "[degF]",
    "kg": "kg", "公斤": "kg", "千克": "kg", "g": "g", "克": "g",
    "lb": "[lb_av]", "lbs": "[lb_av]", "[lb_av]": "[lb_av]",
    "mg": "mg", "毫克": "mg", "ug": "ug", "mcg": "ug", "微克": "ug",
    "mg/kg": "mg/kg", "ug/kg": "ug/kg", "mcg/kg": "ug/kg", "g/kg": "g/kg",
}  # fmt: skip

# Log viral loads (6.4: "log10 values: value = 10^x"): the unit inside log10(...).
LOG_ALIASES: dict[str, str] = {
    "log10copies/ml": "{copies}/mL", "logcopies/ml": "{copies}/mL", "lgcopies/ml": "{copies}/mL",
    "log10(copies/ml)": "{copies}/mL", "{log_copies}/ml": "{copies}/mL",
    "log10{copies}/ml": "{copies}/mL", "log10iu/ml": "[IU]/mL", "logiu/ml": "[IU]/mL",
    "lgiu/ml": "[IU]/mL", "log10(iu/ml)": "[IU]/mL", "{log_iu}/ml": "[IU]/mL",
    "log10[iu]/ml": "[IU]/mL", "{log_[iu]}/ml": "[IU]/mL",
}  # fmt: skip

# Dose units (4.3.3): unit -> (factor to mg, per kg of body weight?).
DOSE_UNITS: dict[str, tuple[Fraction, bool]] = {
    "mg": (F(1), False),
    "g": (F(1000), False),
    "ug": (F(1, 1000), False),
    "mg/kg": (F(1), True),
    "ug/kg": (F(1, 1000), True),
    "g/kg": (F(1000), True),
}
