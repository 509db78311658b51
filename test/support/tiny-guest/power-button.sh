#!/bin/sh
# busybox acpid runs this for the ACPI power button (PWRF/00000080): the
# guest's clean shutdown, as an OS does when libvirt asks it to stop.
read -r up _ </proc/uptime
echo "TINYGUEST POWER-BUTTON uptime=$up" >/dev/console
sync
poweroff -f
