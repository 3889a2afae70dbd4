"""Generate the synthetic recipient CSVs in ``data/``: seeded, so every run writes the same bytes.

The people, numbers and addresses are made up. Phone numbers are built from real mobile ranges so
``phonenumbers`` accepts them (the script checks every one), then written the ways real exports
write them; e-mail addresses use only the reserved ``example.com/.org/.net`` domains.

    python data/make_samples.py            # (re)write the files next to this script
    python data/make_samples.py --check    # exit 1 if a committed file differs from what this makes
    python data/make_samples.py --stats    # what buka_nb's own clean-up makes of each file
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
from pathlib import Path

import phonenumbers

HERE = Path(__file__).resolve().parent
SEED = 20250303

# --------------------------------------------------------------------------- countries

# country: (region, calling code, national mobile prefixes, national digits after the prefix,
#           grouping of the national number for "+cc xxxx xxxxxx", first names, last names, cities)
COUNTRIES = {
    "UK": ("GB", "44", ["7400", "7412", "7456", "7500", "7534", "7701", "7712", "7788", "7800", "7827",
                        "7900", "7930", "7956", "7970", "7985", "79112"], 10, (4, 6),
           ["Oliver", "Amelia", "Harry", "Isla", "George", "Ava", "Noah", "Zoë", "Siobhan", "Rhys", "Aoife"],
           ["Smith", "Jones", "Taylor", "Brown", "O'Connor", "Williams", "Davies", "Evans", "Patel", "Murphy"],
           ["London", "Manchester", "Birmingham", "Leeds", "Glasgow", "Cardiff", "Bristol", "Belfast"]),
    "IN": ("IN", "91", ["98", "97", "96", "91", "88", "87", "79", "70", "63"], 10, (5, 5),
           ["Priya", "Rahul", "Ananya", "Arjun", "Sneha", "Vikram", "Lakshmi", "Rohan", "Kavya", "Aditya"],
           ["Sharma", "Verma", "Iyer", "Reddy", "Nair", "Gupta", "Das", "Singh", "Menon", "Khan"],
           ["Mumbai", "Delhi", "Bengaluru", "Chennai", "Hyderabad", "Kolkata", "Pune", "Jaipur"]),
    "PH": ("PH", "63", ["917", "918", "905", "906", "915", "916", "927", "999", "998", "920", "921"], 10,
           (3, 3, 4),
           ["Maria", "Juan", "José", "Angelica", "Mark", "Kristine", "Paolo", "Ma. Theresa", "Rommel"],
           ["Santos", "dela Cruz", "Reyes", "Garcia", "Bautista", "Mendoza", "Villanueva", "Ramos"],
           ["Manila", "Quezon City", "Cebu City", "Davao City", "Makati", "Iloilo City", "Baguio"]),
    "NG": ("NG", "234", ["803", "806", "813", "816", "703", "706", "802", "808", "812", "701", "905"], 10,
           (3, 3, 4),
           ["Chinedu", "Ngozi", "Oluwaseun", "Aisha", "Emeka", "Funmilayo", "Ibrahim", "Chiamaka", "Tunde"],
           ["Okafor", "Adeyemi", "Balogun", "Bello", "Eze", "Okonkwo", "Abubakar", "Nwosu", "Adebayo"],
           ["Lagos", "Abuja", "Kano", "Ibadan", "Port Harcourt", "Enugu", "Benin City"]),
    "BR": ("BR", "55", ["119", "219", "319", "419", "519", "619", "719", "819", "859"], 11, (2, 5, 4),
           ["João", "Ana", "Luíza", "Pedro", "Mariana", "Gabriel", "Beatriz", "Lucas", "Júlia", "Conceição"],
           ["Silva", "Souza", "Pereira", "Oliveira", "Santos", "Costa", "Rodrigues", "Almeida", "Lima"],
           ["São Paulo", "Rio de Janeiro", "Belo Horizonte", "Curitiba", "Porto Alegre", "Brasília",
            "Salvador", "Recife", "Fortaleza"]),
    "US": ("US", "1", ["2122", "4153", "6464", "3125", "3056", "7137", "6178", "2069"], 10, (3, 3, 4),
           ["Michael", "Emily", "Jessica", "David", "Ashley", "Christopher", "Sarah", "Daniel", "Megan"],
           ["Johnson", "Davis", "Miller", "Wilson", "Moore", "Anderson", "Thomas", "Jackson", "García"],
           ["New York", "San Francisco", "Chicago", "Miami", "Houston", "Boston", "Seattle"]),
    "ID": ("ID", "62", ["811", "812", "813", "821", "822", "852", "853", "857", "858", "877", "878", "895"],
           11, (3, 4, 4),
           ["Budi", "Siti", "Dewi", "Agus", "Putri", "Rizky", "Wahyu", "Sri", "Eko", "Nur"],
           ["Santoso", "Lestari", "Wijaya", "Saputra", "Hidayat", "Kusuma", "Pratama", "Setiawan", ""],
           ["Jakarta", "Surabaya", "Bandung", "Medan", "Semarang", "Makassar", "Yogyakarta", "Denpasar"]),
    "KE": ("KE", "254", ["701", "710", "712", "720", "722", "740", "790"], 9, (3, 6),
           ["Wanjiru", "Otieno", "Achieng", "Kipchoge", "Njeri", "Mwangi", "Akinyi", "Kiprono"],
           ["Kamau", "Odhiambo", "Mutua", "Kiptoo", "Wambui", "Ochieng", "Njoroge", "Chebet"],
           ["Nairobi", "Mombasa", "Kisumu", "Nakuru", "Eldoret"]),
}


def mobile(rng: random.Random, country: str) -> str:
    """A valid mobile number of *country*: digits, country code first (BUKA's format)."""
    region, cc, prefixes, length, *_ = COUNTRIES[country]
    prefix = rng.choice(prefixes)
    national = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix)))
    number = cc + national
    parsed = phonenumbers.parse("+" + number)
    if not phonenumbers.is_valid_number(parsed) or phonenumbers.region_code_for_number(parsed) != region:
        raise AssertionError(f"generated {number} is not a valid {region} number: fix the prefix list")
    return number


def _grouped(country: str, number: str, sep: str = " ") -> str:
    _, cc, _, _, groups, *_ = COUNTRIES[country]
    national, parts, at = number[len(cc):], [], 0
    for size in groups:
        parts.append(national[at:at + size])
        at += size
    if at < len(national):
        parts.append(national[at:])
    return sep.join(p for p in parts if p)


def _national(country: str, number: str) -> str:
    return "0" + _grouped(country, number)


# How valid numbers get written, with weights: what people and spreadsheets do to them.
FORMATS = [
    ("digits", 34, lambda c, n: n),
    ("plus", 18, lambda c, n: "+" + n),
    ("plus_spaces", 14, lambda c, n: f"+{COUNTRIES[c][1]} {_grouped(c, n)}"),
    ("dashes", 6, lambda c, n: f"+{COUNTRIES[c][1]}-{_grouped(c, n, '-')}"),
    ("double_zero", 7, lambda c, n: "00" + n),
    ("double_zero_spaces", 3, lambda c, n: f"00{COUNTRIES[c][1]} {_grouped(c, n)}"),
    ("excel_sci", 5, lambda c, n: f"{n[0]}.{n[1:]}E+{len(n) - 1}"),
    ("excel_float", 5, lambda c, n: n + ".0"),
    ("padded", 3, lambda c, n: f"  {n} "),
    ("brackets", 2, lambda c, n: f"(+{COUNTRIES[c][1]}) {_grouped(c, n)}"),
]
US_FORMAT = lambda n: f"+1 ({n[1:4]}) {n[4:7]}-{n[7:]}"  # noqa: E731 - how US numbers are written


def written(rng: random.Random, country: str, number: str) -> tuple[str, str]:
    if country == "US" and rng.random() < 0.5:
        return "us_style", US_FORMAT(number)
    kind, _, fmt = rng.choices(FORMATS, weights=[w for _, w, _ in FORMATS])[0]
    return kind, fmt(country, number)


def malformed(rng: random.Random, country: str, number: str) -> tuple[str, str]:
    """A number no clean-up can save."""
    kind = rng.choice(["too_short", "too_short", "letters", "letter_o", "junk", "too_long", "excel_lossy",
                       "national"])
    if kind == "national":  # written for a local caller: 0 + national number, no country code
        # (a US number without its 1 would read as another country's, so US rows stay too short)
        return ("too_short", number[:5]) if country == "US" else (kind, _national(country, number))
    if kind == "too_short":
        return kind, number[:rng.randint(3, 6)]
    if kind == "letters":
        at = rng.randint(3, len(number) - 4)
        return kind, number[:at] + rng.choice(["ABC", "x", "N/A"]) + number[at + 3:]
    if kind == "letter_o":  # a capital O typed for a zero
        return kind, number[:5] + "O" + number[6:]
    if kind == "junk":
        return kind, rng.choice(["n/a", "-", "unknown", "#VALUE!", "TBC", "see email", "?"])
    if kind == "too_long":
        return kind, number + number[-6:]
    if kind == "excel_lossy":  # Excel showed 6 significant digits and the export kept only those
        return kind, f"{number[0]}.{number[1:6]}E+{len(number) - 1}"
    raise AssertionError(kind)


# --------------------------------------------------------------------------- writers


def _csv(rows: list[list[str]], *, delimiter: str = ",", bom: bool = False, crlf: bool = False) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n" if crlf else "\n")
    writer.writerows(rows)
    return ("\ufeff" if bom else "").encode("utf-8") + buffer.getvalue().encode("utf-8")


def _amount(rng: random.Random, low: float, high: float) -> str:
    return f"{rng.uniform(low, high):.2f}"


def _person(rng: random.Random, country: str) -> tuple[str, str]:
    *_, first, last, cities = COUNTRIES[country]
    name = f"{rng.choice(first)} {rng.choice(last)}".strip()
    return name, rng.choice(cities)


def _phone_rows(rng: random.Random, count: int, weights: dict[str, float], *, empty: float, bad: float,
                duplicate: float) -> list[tuple[str, str, str, int | None]]:
    """(kind, written phone, country, row it repeats) rows: valid in messy formats, empty,
    malformed, and repeats of an earlier valid row (often written differently)."""
    rows: list[tuple[str, str, str, int | None]] = []
    seen: list[tuple[str, str, int]] = []
    countries, country_weights = list(weights), list(weights.values())
    while len(rows) < count:
        roll = rng.random()
        if roll < duplicate and seen:
            country, number, original = rng.choice(seen)
            kind, text = written(rng, country, number)
            rows.append(("duplicate", text, country, original))
            continue
        country = rng.choices(countries, weights=country_weights)[0]
        number = mobile(rng, country)
        if roll < duplicate + empty:
            rows.append(("empty", rng.choice(["", "", " "]), country, None))
        elif roll < duplicate + empty + bad:
            kind, text = malformed(rng, country, number)
            rows.append((kind, text, country, None))
        else:
            kind, text = written(rng, country, number)
            seen.append((country, number, len(rows)))
            rows.append((kind, text, country, None))
    return rows


def sms_recipients() -> bytes:
    """~2,000 rows, ``;``-delimited with a UTF-8 BOM and CRLF: an Excel 'CSV UTF-8' export."""
    rng = random.Random(f"{SEED}-sms")
    weights = {"UK": 22, "IN": 20, "PH": 15, "NG": 12, "BR": 10, "US": 8, "ID": 8, "KE": 5}
    out = [["phone", "name", "city", "amount"]]
    for kind, phone, country, original in _phone_rows(rng, 1990, weights, empty=0.015, bad=0.035,
                                                      duplicate=0.03):
        if original is not None:  # the same person again, under another spelling of the number
            out.append([phone, *out[original + 1][1:]])
            continue
        name, city = _person(rng, country)
        if rng.random() < 0.01:
            name = ""
        elif rng.random() < 0.02:
            name = name.upper()
        if rng.random() < 0.03:
            city = ""
        amount = "" if rng.random() < 0.03 else _amount(rng, 5, 500)
        out.append([phone, name, city, amount])
    for row in rng.sample(out[1:], 10):  # the same line exported twice
        out.insert(rng.randint(1, len(out)), list(row))
    return _csv(out, delimiter=";", bom=True, crlf=True)


def sms_small() -> bytes:
    """20 rows for the quickstart: mostly clean, one duplicate, two numbers that cannot be sent."""
    rng = random.Random(f"{SEED}-small")
    plan = ["UK", "IN", "PH", "NG", "BR", "US", "ID", "KE", "UK", "IN", "PH", "UK", "NG", "IN", "BR", "UK", "PH"]
    out = [["phone", "name", "city", "amount"]]
    numbers = []
    for i, country in enumerate(plan):
        number = mobile(rng, country)
        numbers.append((country, number))
        text = [number, "+" + number, f"+{COUNTRIES[country][1]} {_grouped(country, number)}"][i % 3]
        if i == 7:
            text = f"{number[0]}.{number[1:]}E+{len(number) - 1}"  # Excel, digits intact
        name, city = _person(rng, country)
        out.append([text, name, city, _amount(rng, 10, 250)])
    country, number = numbers[0]
    out.insert(6, ["00" + number, out[1][1], out[1][2], out[1][3]])  # row 1 again, written differently
    out.insert(15, ["12345", "Test User", "London", "0.00"])            # too short
    out.append(["91 98O 123 4567", "Ravi Kumar", "Pune", "99.00"])        # a letter O for a zero
    return _csv(out)


def email_recipients() -> bytes:
    """~500 rows of addresses with the mistakes people and CRMs make."""
    rng = random.Random(f"{SEED}-email")
    domains = ["example.com", "example.org", "example.net", "mail.example.com", "shop.example.net",
               "corp.example.org"]
    plans = ["free", "basic", "pro", "business"]
    codes = ["WELCOME10", "SPRING25", "VIP-7KQ2", "LOYAL15", "FREESHIP", ""]
    firsts = [n for c in COUNTRIES.values() for n in c[5]]
    lasts = [n for c in COUNTRIES.values() for n in c[6] if n and "'" not in n]
    out, seen = [["email", "first_name", "plan", "code"]], []

    def ascii_part(text: str) -> str:
        table = str.maketrans("ëéíóúãçâêôàüñ", "eeiouacaeoaun")
        return text.lower().translate(table).replace(" ", "").replace(".", "")

    while len(out) < 501:
        first, last = rng.choice(firsts), rng.choice(lasts)
        local = rng.choice([f"{ascii_part(first)}.{ascii_part(last)}", f"{ascii_part(first)}{rng.randint(1, 99)}",
                            f"{ascii_part(first)[0]}.{ascii_part(last)}", f"{ascii_part(first)}+news",
                            f"{ascii_part(first)}_{ascii_part(last)}"])
        address = f"{local}@{rng.choice(domains)}"
        roll = rng.random()
        if roll < 0.03 and seen:
            address, first = rng.choice(seen)                                  # exact repeat
        elif roll < 0.05 and seen:
            address, first = rng.choice(seen)                                  # repeat, other case
            address = rng.choice([address.upper(), address.title(), address[0].upper() + address[1:]])
        elif roll < 0.07:
            address = ""
        elif roll < 0.16:
            at = address.index("@")
            address = rng.choice([
                address.replace("@", "."),                                     # missing @
                address.replace("@", " @"), f"{first} {last}@{address[at + 1:]}",  # spaces
                (local.replace(".", "..", 1) if "." in local else local[:2] + ".." + local[2:])
                + address[at:],                                                # double dot
                address + ".",                                                 # trailing dot
                address.replace("@", "@@"), address[:at + 1],                  # two @, no domain
                f"{local}@example", address[::-1].replace(".", ",", 1)[::-1],  # no TLD, comma for dot
                "." + address,                                                 # leading dot
            ])
        elif roll < 0.19:
            address = rng.choice([f" {address}", f"{address} ", f"{address}\t"])  # stray whitespace
        elif roll < 0.23:
            address = address[0].upper() + address[1:]                        # mixed case, valid
        else:
            seen.append((address, first))
        name = "" if rng.random() < 0.02 else first
        out.append([address, name, rng.choices(plans, weights=[45, 30, 18, 7])[0],
                    rng.choices(codes, weights=[20, 15, 5, 10, 10, 40])[0]])
    return _csv(out)


def voice_customers() -> bytes:
    """~300 customers with a payment due, for an intelligent-voice reminder campaign."""
    rng = random.Random(f"{SEED}-voice")
    weights = {"IN": 35, "PH": 25, "ID": 20, "NG": 12, "BR": 8}
    out = [["phone", "name", "gender", "amount_due", "due_date"]]
    rows = _phone_rows(rng, 300, weights, empty=0.01, bad=0.04, duplicate=0.04)
    missing_names = set(rng.sample(range(len(rows)), 2))
    for i, (kind, phone, country, original) in enumerate(rows):
        if original is not None:  # the same customer again
            out.append([phone, *out[original + 1][1:]])
            continue
        name, _ = _person(rng, country)
        gender = rng.choices(["male", "female", "M", "F", ""], weights=[44, 44, 4, 4, 4])[0]
        day = rng.randint(1, 28)
        out.append([phone, "" if i in missing_names else name, gender, _amount(rng, 20, 2500),
                    f"2025-{rng.choice(['07', '08'])}-{day:02d}"])
    return _csv(out)


FILES = {
    "sms_recipients.csv": sms_recipients,
    "sms_small.csv": sms_small,
    "email_recipients.csv": email_recipients,
    "voice_customers.csv": voice_customers,
}


# --------------------------------------------------------------------------- stats


def stats(directory: Path) -> None:
    """What buka_nb's own clean-up makes of each file (needs buka_nb importable)."""
    import pandas as pd

    from buka_nb.phones import normalise_numbers

    for name, column in (("sms_recipients.csv", "phone"), ("sms_small.csv", "phone"),
                         ("voice_customers.csv", "phone")):
        sep = ";" if name == "sms_recipients.csv" else ","
        frame = pd.read_csv(directory / name, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        clean = normalise_numbers(frame[column])
        ok = clean.code == 0
        repeats = int(clean.number[ok].duplicated().sum())
        print(f"{name}: {len(frame)} rows; {int(ok.sum())} usable numbers ({repeats} repeat an earlier row), "
              f"{int((clean.code == -8).sum())} empty (-8), {int((clean.code == -9).sum())} abnormal (-9)")
    from email_validator import EmailNotValidError, validate_email

    frame = pd.read_csv(directory / "email_recipients.csv", dtype=str, keep_default_na=False)
    good, bad, empty, normalised = 0, 0, 0, []
    for address in frame["email"]:
        if not address.strip():
            empty += 1
            continue
        try:
            normalised.append(validate_email(address.strip(), check_deliverability=False).normalized.lower())
            good += 1
        except EmailNotValidError:
            bad += 1
    repeats = len(normalised) - len(set(normalised))
    print(f"email_recipients.csv: {len(frame)} rows; {good} valid after trimming ({repeats} repeat an earlier "
          f"address, ignoring case), {empty} empty, {bad} invalid")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the files on disk, write nothing")
    parser.add_argument("--stats", action="store_true", help="print what buka_nb makes of the files")
    args = parser.parse_args(argv)
    if args.stats:
        stats(HERE)
        return 0
    stale = []
    for name, make in FILES.items():
        data = make()
        path = HERE / name
        if args.check:
            if not path.exists() or path.read_bytes() != data:
                stale.append(name)
        else:
            path.write_bytes(data)
            rows = data.count(b"\n") - 1
            print(f"wrote {path.name}: {rows} rows, {len(data):,} bytes")
    if stale:
        print("out of date: " + ", ".join(stale) + " (run python data/make_samples.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
