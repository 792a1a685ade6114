#!/usr/bin/env bash
# Installs what the PACS tests need, from Debian's packages: Orthanc, its DICOMweb plugin and dicom3tools
# (dciodvfy). Safe to re-run. The package starts a system Orthanc on port 8042; it is stopped here by its pid
# (Debian's init script would stop every Orthanc on the machine by name, the tests' own included).
set -euo pipefail
need=()
command -v Orthanc >/dev/null || need+=(orthanc)
[ -f /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || need+=(orthanc-dicomweb)
command -v dciodvfy >/dev/null || need+=(dicom3tools)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=$([ "$(id -u)" -eq 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
  pidfile=/var/run/orthanc/orthanc.pid
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    $SUDO kill "$(cat "$pidfile")"
  fi
fi
