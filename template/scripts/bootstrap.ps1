# Thin wrapper: run scripts/bootstrap.py with python (or $env:PYTHON).
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..")
$python = if ($env:PYTHON) { $env:PYTHON } else { "python" }
& $python scripts/bootstrap.py @args
exit $LASTEXITCODE
