"""Constant code tables: code-system URIs, condition and route codes, AdverseEvent codes.

Everything here is data. The tables that can be overridden by the study protocol / site config
are *configuration-shaped* (the same shape as the TOML that `Terminology.from_mapping` reads),
so the defaults and a site's overrides go through one parser. The laboratory analytes live in
`adapter.codes_lab`, the diagnoses and infections in `adapter.codes_condition` and the drugs in
`adapter.codes_drug`.

Each row group carries the status CLINICAL-SPEC gives it: FOUND (confirmed in a public source),
RECALLED (attributed, not re-checked), INFERRED (a registry design default). Codes the spec marks
NOT VERIFIED are not in these defaults: a site adds them through its config.
"""

from __future__ import annotations

# --- Code systems (CLINICAL-SPEC 0) --------------------------------------------------------
# FOUND: LOINC, SNOMED, UCUM, RxNorm, THO URIs. RECALLED: ICD-10, ICD-10-CM, MedDRA.
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
UCUM = "http://unitsofmeasure.org"
MEDDRA = "http://terminology.hl7.org/CodeSystem/mdr"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
V3_ROUTE = "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration"
AE_SERIOUSNESS_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
AE_SEVERITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
AE_OUTCOME_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"
# FOUND: THO CodeSystem v3-nciThesaurus, "Official URL" (build.fhir.org/ig/HL7/UTG).
NCI_THESAURUS = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"

ICD10_SYSTEMS = frozenset({ICD10, ICD10_CM})

# --- Routes of administration (CLINICAL-SPEC 4.3.1) ----------------------------------------
# Classes: systemic (oral, IV, IM, SC) | intra-articular (its own local_steroid table) |
# excluded (topical, inhaled, ophthalmic, otic, nasal, rectal-topical). Config-shaped:
# [routes.codes] "system|code" = class, [routes.text] "word" = class.
_SYSTEMIC = "systemic"
_INTRA_ARTICULAR = "intra-articular"
_EXCLUDED = "excluded"
ROUTE_CLASSES = frozenset({_SYSTEMIC, _INTRA_ARTICULAR, _EXCLUDED})

# fmt: off
ROUTES: dict[str, dict[str, str]] = {
    "codes": {
        # SNOMED route values, FOUND in the FHIR route-codes value set (hl7.org/fhir/R5/
        # valueset-route-codes.html): oral, subcutaneous, sublingual, intra-articular, topical,
        # otic, per rectum, per vagina.
        f"{SNOMED}|26643006": _SYSTEMIC,
        f"{SNOMED}|34206005": _SYSTEMIC,
        f"{SNOMED}|37839007": _SYSTEMIC,
        f"{SNOMED}|12130007": _INTRA_ARTICULAR,
        f"{SNOMED}|6064005": _EXCLUDED,
        f"{SNOMED}|10547007": _EXCLUDED,
        f"{SNOMED}|37161004": _EXCLUDED,  # rectal steroids are local (proctitis): INFERRED
        f"{SNOMED}|16857009": _EXCLUDED,  # vaginal: local, not listed in 4.3.1 (INFERRED)
        # SNOMED FOUND in public GitHub files / the FHIR R4 examples: intravenous 47625008,
        # intramuscular 78421000, ophthalmic 54485002, nasal 46713006, respiratory tract
        # (inhaled) 447694001.
        f"{SNOMED}|47625008": _SYSTEMIC,
        f"{SNOMED}|78421000": _SYSTEMIC,
        f"{SNOMED}|54485002": _EXCLUDED,
        f"{SNOMED}|46713006": _EXCLUDED,
        f"{SNOMED}|447694001": _EXCLUDED,
        # SNOMED qualifier values used as routes in the FHIR R4 examples (FOUND there):
        # Intravenous, Intramuscular, Subcutaneous, Oral, oral administration, Topical.
        f"{SNOMED}|255560000": _SYSTEMIC,
        f"{SNOMED}|255559005": _SYSTEMIC,
        f"{SNOMED}|263887005": _SYSTEMIC,
        f"{SNOMED}|260548002": _SYSTEMIC,
        f"{SNOMED}|394899003": _SYSTEMIC,
        f"{SNOMED}|359540000": _EXCLUDED,
        # HL7 v3 RouteOfAdministration, FOUND (R4 value set v3-RouteOfAdministration).
        **{f"{V3_ROUTE}|{c}": _SYSTEMIC for c in (
            "PO", "CHEW", "SL", "DISSOLVE", "NGT", "GT",
            "IV", "IVINJ", "IVINJBOL", "IVPUSH", "IVRPUSH", "IVSPUSH", "IVC", "IVCC", "IVCI",
            "IM", "IMD", "IMZ", "SQ", "SQINFUS",
        )},
        f"{V3_ROUTE}|IARTINJ": _INTRA_ARTICULAR,
        **{f"{V3_ROUTE}|{c}": _EXCLUDED for c in (
            "TOPICAL", "SKIN", "TRNSDERM", "DRESS", "SCALP", "OCDRESTA",
            "OPTHALTA", "IOTOP", "OT", "NASAL", "NASALINSTIL", "NASINHL", "NASNEB",
            "IPINHL", "NEB", "ORNEB", "ORIFINHL", "INSUF",
            "RECTAL", "PR", "ENEMA", "RETENEMA", "RECINSTL",
            "ORALTA", "ORMUC", "BUC", "MUC", "VAGINS", "VAGINSI",
        )},
    },
    # Route words, English and Chinese (INFERRED). A text naming two classes is "unknown".
    "text": {
        **dict.fromkeys(
            (
                "oral", "orally", "po", "p o", "by mouth", "per os", "sublingual",
                "intravenous", "intravenously", "iv", "i v", "ivgtt", "iv drip", "iv push",
                "intravenous infusion", "intramuscular", "im", "i m", "subcutaneous", "sc",
                "s c", "sq", "subcut",
                "口服", "舌下", "静脉", "静滴", "静注", "静推", "静脉滴注", "静脉注射", "静脉输注",
                "肌注", "肌内注射", "肌肉注射", "皮下", "皮下注射",
            ),
            _SYSTEMIC,
        ),
        **dict.fromkeys(
            (
                "intra articular", "intraarticular", "关节腔", "关节腔注射", "关节腔内注射",
                "关节内注射",
            ),
            _INTRA_ARTICULAR,
        ),
        **dict.fromkeys(
            (
                "topical", "cutaneous", "transdermal", "skin", "inhaled", "inhalation",
                "nebulised", "nebulized", "nebulisation", "nebulization", "ophthalmic", "eye",
                "otic", "ear", "nasal", "intranasal", "rectal", "per rectum", "pr", "vaginal",
                "外用", "局部", "涂抹", "吸入", "雾化", "雾化吸入", "滴眼", "眼用", "滴耳", "耳用",
                "鼻用", "喷鼻", "滴鼻", "直肠", "灌肠", "塞肛", "纳肛", "阴道",
            ),
            _EXCLUDED,
        ),
    },
}
# fmt: on

# --- Specimens (CLINICAL-SPEC 6.1: "ferritin in CSF is not serum ferritin") ------------------
# A blood analyte is refused only when its specimen is positively non-blood (INFERRED).
NON_BLOOD_SPECIMEN_TERMS = frozenset(
    {
        "csf", "cerebrospinal", "spinal fluid", "urine", "ur", "bal", "bronchoalveolar",
        "lavage", "sputum", "pleural", "ascites", "ascitic", "peritoneal", "synovial",
        "joint fluid", "saliva", "stool", "feces", "faeces", "tissue", "biopsy", "marrow",
        "vitreous", "aqueous humor", "amniotic", "pericardial", "swab", "throat",
        "nasopharyngeal", "bronchial",
        "脑脊液", "尿", "尿液", "肺泡灌洗液", "灌洗液", "痰", "胸水", "胸腔积液", "腹水",
        "腹腔积液", "关节液", "滑液", "骨髓", "组织", "唾液", "粪", "粪便", "拭子", "房水",
        "玻璃体",
    }
)  # fmt: skip
# SNOMED specimen types (RECALLED by this module's author, configurable in spirit): CSF,
# urine, bronchoalveolar lavage fluid, tissue.
NON_BLOOD_SPECIMEN_CODES = frozenset({"258450006", "122575003", "258607008", "119376003"})

# --- AdverseEvent (CLINICAL-SPEC 5.2-5.4) ---------------------------------------------------
# seriousness code -> (is serious, ICH E2A criterion or None). Both spellings: the R4 code
# system (FOUND, hl7.org/fhir/r4/codesystem-adverse-event-seriousness.html; the BirthDefect and
# PreventImpairment displays RECALLED) and the THO v1.0.1 / AE research IG lower-case codes
# (FOUND). The same URI carries both, so the code alone decides.
SERIOUSNESS: dict[str, tuple[bool, str | None]] = {
    "Non-serious": (False, None),
    "Serious": (True, None),
    "SeriousResultsInDeath": (True, "death"),
    "SeriousIsLifeThreatening": (True, "life-threatening"),
    "SeriousResultsInHospitalization": (True, "hospitalization"),
    "SeriousResultsInDisability": (True, "disability"),
    "SeriousIsBirthDefect": (True, "congenital-anomaly"),
    "SeriousRequiresPreventImpairment": (True, "required-intervention"),
    "non-serious": (False, None),
    "serious": (True, None),
}

# AE research IG seriousness-criteria extension: criterionCode (NCI Thesaurus) -> criterion.
# FOUND: THO ValueSet adverse-event-clinical-research-seriousness-criteria (a GoFSH copy).
SERIOUSNESS_CRITERIA: dict[str, str] = {
    "C48275": "death",
    "C84266": "life-threatening",
    "C83052": "hospitalization",
    "C11338": "disability",
    "C83117": "congenital-anomaly",
    "C82521": "important-medical-event",
    "C201939": "required-intervention",
    # ICH E2B(R3) seriousness criteria (urn:oid:2.16.840.1.113883.3.989.2.1.1.19), which the AE
    # research IG's FSH source uses for criterionCode. RECALLED: verify against the ICH E2B(R3)
    # code list before relying on the less common ones.
    "34": "death",
    "21": "life-threatening",
    "33": "hospitalization",
    "35": "disability",
    "12": "congenital-anomaly",
    "26": "important-medical-event",
}

# R4 severity (RECALLED); the AE research IG ae-severity extension binds the same value set.
SEVERITY_CODES = frozenset({"mild", "moderate", "severe"})

# AE research IG ae-grade extension: NCI Thesaurus grade code -> CTCAE grade.
# FOUND: THO ValueSet adverse-event-clinical-research-grades (a GoFSH copy of it on GitHub).
CTCAE_GRADES: dict[str, int] = {
    "C41338": 1,
    "C41339": 2,
    "C41340": 3,
    "C41337": 4,
    "C48275": 5,
}

# R4 outcome (FOUND, hl7.org/fhir/R4/codesystem-adverse-event-outcome.html).
OUTCOME_CODES = frozenset(
    {"resolved", "recovering", "ongoing", "resolvedWithSequelae", "fatal", "unknown"}
)
FATAL_OUTCOMES = frozenset({"fatal"})

# Extension URLs. R5 IG (hl7.org/fhir/uv/ae-research-ig, v1.0.1) and its R4 backport
# (hl7.org/fhir/uv/ae-research-backport-ig).
#  - ae-severity: R5 URL FOUND (fixed value on the extension page); the backport spelling is
#    INFERRED from the backport's ae-grade URL pattern (R4 has a core `severity` element, so the
#    backport may not define it). "severity-or-grade" is the id in the IG's pre-publication FSH.
#  - ae-grade: both FOUND.
#  - seriousness-criteria: backport FOUND ("Official URL"); R5 page FOUND, URL by the IG pattern.
AE_SEVERITY_URLS = (
    "http://hl7.org/fhir/uv/ae-research-ig/StructureDefinition/ae-severity",
    "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/ae-severity",
    "http://hl7.org/fhir/uv/ae-research-ig/StructureDefinition/severity-or-grade",
)
AE_GRADE_URLS = (
    "http://hl7.org/fhir/uv/ae-research-ig/StructureDefinition/ae-grade",
    "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/ae-grade",
)
AE_SERIOUSNESS_CRITERIA_URLS = (
    "http://hl7.org/fhir/uv/ae-research-ig/StructureDefinition/seriousness-criteria",
    "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/seriousness-criteria",
)
# Sub-extensions of seriousness-criteria (FOUND).
AE_CRITERION_CODE = "criterionCode"
AE_CRITERION_PRESENT = "criterionPresent"
