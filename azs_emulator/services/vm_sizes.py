"""The VM sizes an Azure Stack Hub offers: name, cores, memory (MB), most data disks, resource disk (MB).

docs: Microsoft's "VM sizes supported in Azure Stack Hub" (azure-stack/user/azure-stack-vm-sizes.md): Basic A,
Standard A, Av2, D, Dv2, DS, DSv2, F, Fs and Fsv2 (up to F64s_v2, on scale units with 64 or more cores). GPU sizes
need GPU hardware and are left out. real-stack: every size of a 2017 Stack's policy seed (Azure/AzureStack-Tools
``Policy/AzureStack.vmSkus.json``) is here; the parity corpus checks it.
"""

from __future__ import annotations


def _series(prefix: str, rows: tuple[tuple[str, int, int, int, int], ...]) -> tuple[tuple[str, int, int, int, int], ...]:
    return tuple((f"{prefix}_{name}", cores, memory, disks, resource) for name, cores, memory, disks, resource in rows)


SIZES: tuple[tuple[str, int, int, int, int], ...] = (
    *_series("Basic", (("A0", 1, 768, 1, 20480), ("A1", 1, 1792, 2, 40960), ("A2", 2, 3584, 4, 61440),
                       ("A3", 4, 7168, 8, 122880), ("A4", 8, 14336, 16, 245760))),
    *_series("Standard", (
        ("A0", 1, 768, 1, 20480), ("A1", 1, 1792, 2, 71680), ("A2", 2, 3584, 4, 138240), ("A3", 4, 7168, 8, 291840),
        ("A4", 8, 14336, 16, 619520), ("A5", 2, 14336, 4, 138240), ("A6", 4, 28672, 8, 291840), ("A7", 8, 57344, 16, 619520),
        ("A1_v2", 1, 2048, 2, 10240), ("A2_v2", 2, 4096, 4, 20480), ("A4_v2", 4, 8192, 8, 40960), ("A8_v2", 8, 16384, 16, 81920),
        ("A2m_v2", 2, 16384, 4, 20480), ("A4m_v2", 4, 32768, 8, 40960), ("A8m_v2", 8, 65536, 16, 81920),
        ("D1", 1, 3584, 4, 51200), ("D2", 2, 7168, 8, 102400), ("D3", 4, 14336, 16, 204800), ("D4", 8, 28672, 32, 409600),
        ("D11", 2, 14336, 8, 102400), ("D12", 4, 28672, 16, 204800), ("D13", 8, 57344, 32, 409600),
        ("D14", 16, 114688, 64, 819200),
        ("D1_v2", 1, 3584, 4, 51200), ("D2_v2", 2, 7168, 8, 102400), ("D3_v2", 4, 14336, 16, 204800),
        ("D4_v2", 8, 28672, 32, 409600), ("D5_v2", 16, 57344, 64, 819200), ("D11_v2", 2, 14336, 8, 102400),
        ("D12_v2", 4, 28672, 16, 204800), ("D13_v2", 8, 57344, 32, 409600), ("D14_v2", 16, 114688, 64, 819200),
        ("DS1", 1, 3584, 4, 7168), ("DS2", 2, 7168, 8, 14336), ("DS3", 4, 14336, 16, 28672), ("DS4", 8, 28672, 32, 57344),
        ("DS11", 2, 14336, 8, 28672), ("DS12", 4, 28672, 16, 57344), ("DS13", 8, 57344, 32, 114688),
        ("DS14", 16, 114688, 64, 229376),
        ("DS1_v2", 1, 3584, 4, 7168), ("DS2_v2", 2, 7168, 8, 14336), ("DS3_v2", 4, 14336, 16, 28672),
        ("DS4_v2", 8, 28672, 32, 57344), ("DS5_v2", 16, 57344, 64, 114688), ("DS11_v2", 2, 14336, 8, 28672),
        ("DS12_v2", 4, 28672, 16, 57344), ("DS13_v2", 8, 57344, 32, 114688), ("DS14_v2", 16, 114688, 64, 229376),
        ("F1", 1, 2048, 4, 16384), ("F2", 2, 4096, 8, 32768), ("F4", 4, 8192, 16, 65536), ("F8", 8, 16384, 32, 131072),
        ("F16", 16, 32768, 64, 262144),
        ("F1s", 1, 2048, 4, 4096), ("F2s", 2, 4096, 8, 8192), ("F4s", 4, 8192, 16, 16384), ("F8s", 8, 16384, 32, 32768),
        ("F16s", 16, 32768, 64, 65536),
        ("F2s_v2", 2, 4096, 4, 16384), ("F4s_v2", 4, 8192, 8, 32768), ("F8s_v2", 8, 16384, 16, 65536),
        ("F16s_v2", 16, 32768, 32, 131072), ("F32s_v2", 32, 65536, 32, 262144), ("F64s_v2", 64, 131072, 32, 524288),
        # assumed: kept from the emulator's earlier list (Microsoft's Stack page names no Dsv3)
        ("D2s_v3", 2, 8192, 4, 16384),
    )),
)
