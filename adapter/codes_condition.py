"""Diagnosis and infection code lists (CLINICAL-SPEC 6.5, 6.6), configuration-shaped.

`CONDITIONS` has the shape of the `[conditions.<concept>]` tables of the site/protocol TOML.
Codes the spec marks NOT VERIFIED are not shipped (they go in a site's config).
"""

from __future__ import annotations

from typing import Any

# --- Diagnosis and infection concepts (CLINICAL-SPEC 6.5, 6.6) ------------------------------
# concept -> {category, snomed, icd10 (prefixes: "B25" covers B25.0-B25.9), synonyms}.
# ICD-10 codes match with or without the dot. Synonyms are English and Chinese (INFERRED).
CONDITIONS: dict[str, dict[str, Any]] = {
    # 6.5 AOSD: ICD-10 M06.1 FOUND (weak). SNOMED NOT VERIFIED: not shipped.
    "AOSD": {
        "category": "underlying_disease",
        "snomed": [],
        "icd10": ["M06.1"],
        "synonyms": [
            "adult onset still's disease",
            "adult-onset still disease",
            "adult onset stills disease",
            "aosd",
            "成人斯蒂尔病",
            "成人still病",
            "成人斯蒂尔氏病",
        ],
    },
    # 6.5 SLE: SNOMED 55464009 and ICD-10 M32.1 / M32.8 / M32.9 RECALLED.
    "SLE": {
        "category": "underlying_disease",
        "snomed": ["55464009"],
        "icd10": ["M32.1", "M32.8", "M32.9"],
        "synonyms": ["systemic lupus erythematosus", "sle", "系统性红斑狼疮", "红斑狼疮"],
    },
    # 6.5 MAS: no SNOMED verified, no specific ICD-10 (INFERRED): local codes and text only.
    "MAS": {
        "category": "mas_hlh",
        "snomed": [],
        "icd10": [],
        "synonyms": ["macrophage activation syndrome", "mas", "巨噬细胞活化综合征"],
    },
    # 6.5 HLH D76.1, infection-associated haemophagocytic syndrome D76.2: RECALLED.
    # SNOMED NOT VERIFIED. D76.3 (other histiocytosis) is not HLH and is left out (INFERRED).
    "HLH": {
        "category": "mas_hlh",
        "snomed": [],
        "icd10": ["D76.1", "D76.2"],
        "synonyms": [
            "hemophagocytic lymphohistiocytosis",
            "haemophagocytic lymphohistiocytosis",
            "hemophagocytic syndrome",
            "haemophagocytic syndrome",
            "hlh",
            "噬血细胞综合征",
            "噬血细胞性淋巴组织细胞增生症",
            "噬血综合征",
        ],
    },
    # 6.6 CMV: SNOMED 28944009 FOUND; ICD-10 B25.x, B27.1 RECALLED. Viraemia/end-organ SNOMED
    # codes NOT VERIFIED.
    "CMV": {
        "category": "infection",
        "snomed": ["28944009"],
        "icd10": ["B25", "B27.1"],
        "synonyms": [
            "cytomegalovirus infection",
            "cytomegalovirus reactivation",
            "cytomegalovirus infection reactivation",
            "cytomegalovirus viremia",
            "cytomegalovirus viraemia",
            "cmv infection",
            "cmv reactivation",
            "cmv viremia",
            "cmv viraemia",
            "cmv dnaemia",
            "cmv disease",
            "cmv pneumonitis",
            "cmv pneumonia",
            "pneumonia cytomegaloviral",
            "cytomegalovirus hepatitis",
            "巨细胞病毒感染",
            "巨细胞病毒血症",
            "巨细胞病毒再激活",
            "巨细胞病毒肺炎",
            "cmv感染",
        ],
    },
    # 6.6 EBV: infectious mononucleosis 271558008, ICD-10 B27.0 RECALLED; EBV SNOMED NOT VERIFIED.
    "EBV": {
        "category": "infection",
        "snomed": ["271558008"],
        "icd10": ["B27.0"],
        "synonyms": [
            "epstein-barr virus infection",
            "epstein barr virus infection",
            "epstein-barr viraemia",
            "epstein-barr viremia",
            "ebv infection",
            "ebv viremia",
            "ebv viraemia",
            "eb病毒感染",
            "eb病毒血症",
        ],
    },
    # 6.6 Herpes zoster: SNOMED 4740000 FOUND; ICD-10 B02.x RECALLED.
    "herpes_zoster": {
        "category": "infection",
        "snomed": ["4740000"],
        "icd10": ["B02"],
        "synonyms": ["herpes zoster", "shingles", "带状疱疹"],
    },
    # 6.6 Pneumonia: SNOMED 233604007, 53084003 FOUND; ICD-10 J18.9 FOUND (a mapping). The J18
    # prefix (all "pneumonia, organism unspecified") is INFERRED.
    "pneumonia": {
        "category": "infection",
        "snomed": ["233604007", "53084003"],
        "icd10": ["J18"],
        "synonyms": ["pneumonia", "bacterial pneumonia", "肺炎", "肺部感染"],
    },
    # 6.6 Sepsis: SNOMED 91302008, 770349000 FOUND; ICD-10 A41.9 (A41 prefix INFERRED).
    "sepsis": {
        "category": "infection",
        "snomed": ["91302008", "770349000"],
        "icd10": ["A41"],
        "synonyms": ["sepsis", "viral sepsis", "septicaemia", "septicemia", "脓毒症", "败血症"],
    },
    # 6.6 Bacterial infection: SNOMED 87628006, ICD-10 A49.9 RECALLED (A49 prefix INFERRED).
    "bacterial": {
        "category": "infection",
        "snomed": ["87628006"],
        "icd10": ["A49"],
        "synonyms": ["bacterial infection", "bacterial infectious disease", "细菌感染"],
    },
    # 6.6 Fungal infection: SNOMED 3218000, ICD-10 B49 / B37 / B44 RECALLED.
    "fungal": {
        "category": "infection",
        "snomed": ["3218000"],
        "icd10": ["B49", "B37", "B44"],
        "synonyms": ["fungal infection", "mycosis", "candidiasis", "aspergillosis", "真菌感染"],
    },
}

# When one CodeableConcept names two concepts (e.g. CMV pneumonitis coded as CMV and as
# pneumonia), the more specific wins (INFERRED): earlier in this tuple is more specific.
CONDITION_PRIORITY = (
    "MAS",
    "HLH",
    "AOSD",
    "SLE",
    "CMV",
    "EBV",
    "herpes_zoster",
    "fungal",
    "bacterial",
    "sepsis",
    "pneumonia",
)

# Words ignored around a condition name in text: SNOMED semantic tags (INFERRED).
CONDITION_NOISE_WORDS = frozenset({"disorder", "finding", "situation"})
