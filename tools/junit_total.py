"""Sum JUnit XML reports into one closing line: 'TOTAL: N passed, N failed'.

Exits non-zero when a report is missing, something failed, or nothing ran.
"""

import sys
import xml.etree.ElementTree as ET


def main(paths):
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for path in paths:
        root = ET.parse(path).getroot()
        suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
        for suite in suites:
            for key in totals:
                totals[key] += int(suite.get(key, 0))
    failed = totals["failures"] + totals["errors"]
    passed = totals["tests"] - failed - totals["skipped"]
    print(f"TOTAL: {passed} passed, {failed} failed, {totals['skipped']} skipped")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
