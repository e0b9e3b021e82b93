from livebg.machine import FEATURES, cpu_summary, usable_cores

ZEN3 = """processor	: 0
vendor_id	: AuthenticAMD
cpu family	: 25
model		: 1
model name	: AMD EPYC
flags		: fpu sse avx avx2 fma bmi2

processor	: 1
model name	: Something else
"""

SAPPHIRE = """processor	: 0
cpu family	: 6
model		: 143
model name	: Intel(R) Xeon(R) Platinum 8481C
flags		: avx2 fma avx512f avx512_vnni avx512_bf16 amx_bf16 amx_int8 amx_tile
"""


def test_names_the_first_cpu_and_what_it_lacks() -> None:
    line = cpu_summary(ZEN3)
    assert line.startswith("AMD EPYC (family 25 model 1), ")
    assert f"{usable_cores()} cores, avx2 fma; no avx512f avx512_vnni avx512_bf16 amx_bf16 amx_int8" in line
    assert "Something else" not in line


def test_a_cpu_with_everything_lacks_nothing() -> None:
    line = cpu_summary(SAPPHIRE)
    assert line.endswith(", " + " ".join(FEATURES)) and "; no" not in line


def test_without_cpuinfo_it_still_says_something() -> None:
    assert cpu_summary("").endswith(f"{usable_cores()} cores")
