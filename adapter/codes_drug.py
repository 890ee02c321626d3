"""Drug ingredient tables and prednisone factors (CLINICAL-SPEC 4.2, 4.4), configuration-shaped.

`DRUGS` has the shape of the `[drugs.<ingredient>]` tables of the site/protocol TOML:
`class` (emapalumab | glucocorticoid | other_mas_therapy | other), `rxnorm_in` (RxNorm
ingredient CUIs, TTY=IN), `atc` (old and current codes, both accepted), `names` (generic and
brand names, English and Chinese, matched as words; brand and Chinese names are INFERRED unless
CLINICAL-SPEC 4.4 lists them). Product-level RxNorm codes go through the offline table
`adapter/data/rxnorm_ingredients.csv` (4.4 path 2).
"""

from __future__ import annotations

from typing import Any

_GC = "glucocorticoid"
_MAS = "other_mas_therapy"

# fmt: off
DRUGS: dict[str, dict[str, Any]] = {
    # RxNorm IN NOT VERIFIED (product CUIs are in the offline table); ATC L04AA39 FOUND,
    # L04AG09 INFERRED (2024 move of monoclonal antibodies to L04AG). No Chinese name is shipped:
    # none was found.
    "emapalumab": {
        "class": "emapalumab", "rxnorm_in": [], "atc": ["L04AA39", "L04AG09"],
        "names": ["emapalumab", "emapalumab-lzsg", "gamifant", "ni-0501"],
    },
    # Glucocorticoids: RxNorm IN FOUND (BRIM_Analytics corticosteroid list; triamcinolone also
    # cpic-schema); ATC H02AB* RECALLED. Chinese 甲泼尼龙/甲强龙, 泼尼松, 地塞米松 from 4.4.
    "prednisone": {
        "class": _GC, "rxnorm_in": ["8640"], "atc": ["H02AB07"],
        "names": ["prednisone", "deltasone", "rayos", "泼尼松", "强的松"],
    },
    "prednisolone": {
        "class": _GC, "rxnorm_in": ["8638"], "atc": ["H02AB06"],
        "names": ["prednisolone", "orapred", "millipred", "泼尼松龙", "强的松龙", "氢化泼尼松"],
    },
    "methylprednisolone": {
        "class": _GC, "rxnorm_in": ["6902"], "atc": ["H02AB04"],
        "names": [
            "methylprednisolone", "medrol", "solu-medrol", "depo-medrol", "甲泼尼龙",
            "甲强龙", "甲基强的松龙", "美卓乐",
        ],
    },
    "dexamethasone": {
        "class": _GC, "rxnorm_in": ["3264"], "atc": ["H02AB02"],
        "names": ["dexamethasone", "decadron", "地塞米松", "氟美松"],
    },
    "hydrocortisone": {
        "class": _GC, "rxnorm_in": ["5492"], "atc": ["H02AB09"],
        "names": ["hydrocortisone", "cortef", "solu-cortef", "氢化可的松"],
    },
    "betamethasone": {
        "class": _GC, "rxnorm_in": ["1514"], "atc": ["H02AB01"],
        "names": ["betamethasone", "celestone", "diprospan", "倍他米松", "得宝松"],
    },
    "triamcinolone": {
        "class": _GC, "rxnorm_in": ["10759"], "atc": ["H02AB08"],
        "names": ["triamcinolone", "kenalog", "曲安奈德", "曲安西龙", "去炎松"],
    },
    "cortisone": {
        "class": _GC, "rxnorm_in": ["2878"], "atc": ["H02AB10"],
        "names": ["cortisone", "可的松"],
    },
    # Other MAS therapy. RxNorm: ciclosporin, tacrolimus, etoposide, cyclophosphamide,
    # mycophenolic acid FOUND (cpic-schema); anakinra, tocilizumab, ruxolitinib, tofacitinib,
    # baricitinib, mycophenolate mofetil RECALLED; IVIG NOT VERIFIED (none shipped). ATC:
    # L04AD01, L04AC03, L04AC07, L01AA01, L04AA06, L04AA29, L04AA37 FOUND; L04AD02, L01EJ01,
    # L01CB01, J06BA02 RECALLED; L04AF01, L04AF02 INFERRED. Chinese 环孢素, 芦可替尼, 托法替布,
    # 依托泊苷 from 4.4.
    "ciclosporin": {
        "class": _MAS, "rxnorm_in": ["3008"], "atc": ["L04AD01"],
        "names": [
            "ciclosporin", "cyclosporine", "cyclosporin", "neoral", "sandimmune", "环孢素",
            "环孢霉素", "新山地明",
        ],
    },
    "tacrolimus": {
        "class": _MAS, "rxnorm_in": ["42316"], "atc": ["L04AD02"],
        "names": ["tacrolimus", "prograf", "他克莫司", "普乐可复"],
    },
    "anakinra": {
        "class": _MAS, "rxnorm_in": ["72435"], "atc": ["L04AC03"],
        "names": ["anakinra", "kineret", "阿那白滞素"],
    },
    "tocilizumab": {
        "class": _MAS, "rxnorm_in": ["612865"], "atc": ["L04AC07"],
        "names": ["tocilizumab", "actemra", "roactemra", "托珠单抗", "雅美罗"],
    },
    "ruxolitinib": {
        "class": _MAS, "rxnorm_in": ["1193326"], "atc": ["L01EJ01"],
        "names": ["ruxolitinib", "jakafi", "jakavi", "芦可替尼", "捷恪卫"],
    },
    "tofacitinib": {
        "class": _MAS, "rxnorm_in": ["1357536"], "atc": ["L04AA29", "L04AF01"],
        "names": ["tofacitinib", "xeljanz", "托法替布", "托法替尼"],
    },
    "baricitinib": {
        "class": _MAS, "rxnorm_in": ["2047232"], "atc": ["L04AA37", "L04AF02"],
        "names": ["baricitinib", "olumiant", "巴瑞替尼", "艾乐明"],
    },
    "etoposide": {
        "class": _MAS, "rxnorm_in": ["4179"], "atc": ["L01CB01"],
        "names": ["etoposide", "vepesid", "toposar", "vp-16", "依托泊苷"],
    },
    "cyclophosphamide": {
        "class": _MAS, "rxnorm_in": ["3002"], "atc": ["L01AA01"],
        "names": ["cyclophosphamide", "cytoxan", "endoxan", "环磷酰胺"],
    },
    "mycophenolic acid": {
        "class": _MAS, "rxnorm_in": ["7145"], "atc": ["L04AA06"],
        "names": ["mycophenolic acid", "mycophenolate sodium", "myfortic", "麦考酚酸", "麦考酚钠"],
    },
    "mycophenolate mofetil": {
        "class": _MAS, "rxnorm_in": ["68149"], "atc": [],
        "names": ["mycophenolate mofetil", "cellcept", "mmf", "吗替麦考酚酯", "骁悉"],
    },
    "ivig": {
        "class": _MAS, "rxnorm_in": [], "atc": ["J06BA02"],
        "names": [
            "ivig", "intravenous immunoglobulin", "intravenous immune globulin",
            "immune globulin intravenous", "静注人免疫球蛋白", "静脉注射人免疫球蛋白",
            "丙种球蛋白", "静丙",
        ],
    },
    # Background therapy (SLE/AOSD), class "other" (INFERRED; configurable). RxNorm FOUND
    # (cpic-schema); ATC RECALLED.
    "methotrexate": {
        "class": "other", "rxnorm_in": ["6851"], "atc": ["L04AX03", "L01BA01"],
        "names": ["methotrexate", "trexall", "mtx", "甲氨蝶呤"],
    },
    "hydroxychloroquine": {
        "class": "other", "rxnorm_in": ["5521"], "atc": ["P01BA02"],
        "names": ["hydroxychloroquine", "plaquenil", "羟氯喹"],
    },
    "rituximab": {
        "class": "other", "rxnorm_in": ["121191"], "atc": ["L01FA01"],
        "names": ["rituximab", "rituxan", "mabthera", "利妥昔单抗", "美罗华"],
    },
    # CMV treatment signal, reporting only (5.1.6): names only (INFERRED).
    "ganciclovir": {
        "class": "other", "rxnorm_in": [], "atc": [], "names": ["ganciclovir", "更昔洛韦"],
    },
    "valganciclovir": {
        "class": "other", "rxnorm_in": [], "atc": [], "names": ["valganciclovir", "缬更昔洛韦"],
    },
    "foscarnet": {"class": "other", "rxnorm_in": [], "atc": [], "names": ["foscarnet", "膦甲酸钠"]},
    # Inhaled/nasal corticosteroid seen in sample data (offline RxNorm table): not in the 4.2
    # factor table, so class "other" (INFERRED).
    "fluticasone": {
        "class": "other", "rxnorm_in": [], "atc": [], "names": ["fluticasone", "氟替卡松"],
    },
}
# fmt: on

# 4.2 prednisone-equivalent factors, mg prednisone per mg drug (FOUND, FDA prednisolone label
# as quoted by droracle.ai). Exact fractions as strings, the form the [steroids] TOML uses.
# Betamethasone 20/3 by default; 25/3 (0.6 mg = 5 mg prednisone) is the config alternative.
STEROID_FACTORS: dict[str, str] = {
    "prednisone": "1",
    "prednisolone": "1",
    "methylprednisolone": "5/4",
    "triamcinolone": "5/4",
    "hydrocortisone": "1/4",
    "cortisone": "1/5",
    "dexamethasone": "20/3",
    "betamethasone": "20/3",
}

DRUG_CLASSES = frozenset({"emapalumab", _GC, _MAS, "other"})
