"""The default catalogue in Welsh: for each code, its name, what to expect and the advice.

Translated from the English of `tracker.catalogue.DEFAULT_CATALOGUE` in plain Welsh. This is
clinical text shown to patients: it needs review by a native Welsh speaker and by a clinician
before it is relied on, and again whenever the English default changes (`tests/test_catalogue_cy`
checks that every default code has a Welsh entry, not that the two say the same).
"""

from __future__ import annotations

SPREAD_ADVICE = (
    "Gall hyn fod yn arwydd bod y tocsin wedi lledu y tu hwnt i'r mannau pigiad. "
    "Mae angen cymorth meddygol arnoch nawr."
)

WELSH: dict[str, tuple[str, str, str]] = {
    "bruising": (
        "Cleisio",
        "Mae cleisio fel arfer yn pylu o fewn ychydig ddyddiau.",
        "Mae cywasgiad oer am 10 munud ar y tro yn helpu. Peidiwch â rhwbio'r ardal. "
        "Dywedwch wrthym os yw'n dal yno ar ôl tri diwrnod.",
    ),
    "headache": (
        "Cur pen",
        "Mae cur pen fel arfer yn para 24 i 48 awr.",
        "Gorffwyswch, yfwch ddŵr, a chymerwch boenladdwr syml fel paracetamol os oes angen un "
        "arnoch.",
    ),
    "redness": (
        "Cochni yn y mannau pigiad",
        "Mae cochni fel arfer yn setlo o fewn oriau i ddau ddiwrnod.",
        "Cadwch yr ardal yn lân, ac osgowch golur, gwres ac ymarfer corff am y diwrnod cyntaf.",
    ),
    "swelling": (
        "Chwyddo yn y mannau pigiad",
        "Mae chwyddiadau bach fel arfer yn setlo o fewn oriau i ddau ddiwrnod.",
        "Mae cywasgiad oer yn helpu. Peidiwch â thylino'r ardal.",
    ),
    "pain": (
        "Poen neu dynerwch yn y mannau pigiad",
        "Mae tynerwch fel arfer yn setlo o fewn dau ddiwrnod.",
        "Gall poenladdwr syml fel paracetamol helpu. Peidiwch â thylino'r ardal.",
    ),
    "itching": (
        "Cosi",
        "Mae cosi ysgafn yn y mannau pigiad fel arfer yn setlo o fewn ychydig ddyddiau.",
        "Peidiwch â chrafu. Os yw'r cosi dros y corff i gyd, gyda chychod gwenyn neu wichian, "
        "adwaith alergaidd yw hynny: rhowch wybod amdano fel adwaith alergaidd.",
    ),
    "nausea": (
        "Cyfog",
        "Mae cyfog fel arfer yn pasio o fewn un i dri diwrnod.",
        "Bwytewch brydau bach, plaen, ac yfwch ddŵr fesul llymaid.",
    ),
    "sweating": (
        "Chwysu",
        "Gall ychydig o chwysu ychwanegol mewn mannau eraill ar y corff ddilyn triniaeth ar "
        "gyfer chwysu.",
        "Gwisgwch ddillad llac sy'n gadael i'r croen anadlu. Dywedwch wrthym os nad yw'n setlo.",
    ),
    "eyelid_drooping": (
        "Amrant yn disgyn",
        "Gall amrant ddechrau disgyn 3 i 14 diwrnod ar ôl triniaeth a gall bara rhai wythnosau.",
        "Bydd eich clinig yn adolygu hyn ac yn cysylltu â chi. Mae fel arfer yn diflannu.",
    ),
    "brow_drooping": (
        "Ael yn disgyn",
        "Gall ael drom neu ael sy'n disgyn ddilyn triniaeth ar y talcen, ac mae fel arfer yn "
        "diflannu.",
        "Bydd eich clinig yn adolygu hyn ac yn cysylltu â chi.",
    ),
    "dry_eye": (
        "Llygaid sych neu lidiog",
        "Gall llygaid sych neu lidiog ddilyn triniaeth yn agos at y llygaid.",
        "Gall diferion iro i'r llygaid helpu. Mae poen yn y llygad neu unrhyw newid i'r golwg "
        "yn fater brys: rhowch wybod amdano fel problemau golwg.",
    ),
    "difficulty_swallowing": (
        "Anhawster llyncu",
        "Nid yw anhawster llyncu yn sgil-effaith ddisgwyliedig.",
        SPREAD_ADVICE,
    ),
    "difficulty_breathing": (
        "Anhawster anadlu",
        "Nid yw anhawster anadlu yn sgil-effaith ddisgwyliedig.",
        SPREAD_ADVICE,
    ),
    "difficulty_speaking": (
        "Anhawster siarad neu lais cryg",
        "Nid yw anhawster siarad yn sgil-effaith ddisgwyliedig.",
        SPREAD_ADVICE,
    ),
    "vision_problems": (
        "Golwg dwbl neu aneglur",
        "Nid yw golwg dwbl neu aneglur yn sgil-effaith ddisgwyliedig.",
        SPREAD_ADVICE,
    ),
    "muscle_weakness": (
        "Gwendid i ffwrdd o'r mannau pigiad",
        "Nid yw gwendid i ffwrdd o'r mannau pigiad yn sgil-effaith ddisgwyliedig.",
        SPREAD_ADVICE,
    ),
    "allergic_reaction": (
        "Brech, cychod gwenyn, wyneb neu wefusau wedi chwyddo, gwichian",
        "Mae'r rhain yn arwyddion o adwaith alergaidd.",
        "Gall adwaith alergaidd waethygu'n gyflym ac mae angen cymorth meddygol arnoch nawr.",
    ),
}
