#!/bin/busybox sh
# PID 1 of the tiny test guest (test/support/tiny-guest/build.ts packs it).
# Everything it says goes to the serial console, one line per fact, each line
# starting with "TINYGUEST " so a test can find it among the kernel's lines:
#   TINYGUEST BOOT uptime=<s>            first thing after the kernel hands over
#   TINYGUEST READY uptime=<s>           modules loaded, power button watched
#   TINYGUEST block+ <dev> serial=<s>    a disk appeared (serial = the volume id)
#   TINYGUEST block- <dev> serial=<s>    it went away
#   TINYGUEST net+ <if> mac=<m>          a NIC appeared / net- it went away
#   TINYGUEST counter=<n> uptime=<s>     once a second; n lives in memory only
#   TINYGUEST POWER-BUTTON uptime=<s>    ACPI power button: it powers off
#                                        (libvirt's soft reboot is that plus a reset)
#   TINYGUEST SELF-POWEROFF / SELF-REBOOT  asked on the serial console (below)
# The counter continuing across a managed save proves the guest's memory was
# kept; it restarts at 1 after any boot.
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
read -r up _ </proc/uptime
echo "TINYGUEST BOOT uptime=$up"

# virtio (disks, NICs) and the ACPI power button are modules in Debian's
# kernel: loaded in dependency order (the builder wrote the order).
while read -r m; do insmod "/lib/modules/$m.ko" || echo "TINYGUEST insmod $m failed"; done </etc/modules
# busybox acpid reads the power button's input device (evdev) and runs
# /etc/acpi/PWRF/00000080 for it.
acpid -c /etc/acpi -l /dev/null
read -r up _ </proc/uptime
echo "TINYGUEST READY uptime=$up"

# Requests typed on the serial console (a test writes them to the guest's
# pty): the guest's own power-off or reboot, which libvirt did not ask for.
while read -r cmd; do
  case $cmd in
    poweroff*) echo "TINYGUEST SELF-POWEROFF"; sync; poweroff -f ;;
    reboot*) echo "TINYGUEST SELF-REBOOT"; sync; reboot -f ;;
  esac
done </dev/console &

blocks=''
nics=''
scan() {
  now=''
  for d in /sys/block/*; do
    [ -e "$d/dev" ] || continue
    s=''
    [ -r "$d/serial" ] && read -r s <"$d/serial"
    now="$now ${d##*/}|${s:--}"
  done
  for e in $now; do case " $blocks " in *" $e "*) ;; *) echo "TINYGUEST block+ ${e%%|*} serial=${e#*|}" ;; esac; done
  for e in $blocks; do case " $now " in *" $e "*) ;; *) echo "TINYGUEST block- ${e%%|*} serial=${e#*|}" ;; esac; done
  blocks=$now
  now=''
  for d in /sys/class/net/*; do
    [ -e "$d/address" ] || continue
    read -r a <"$d/address"
    now="$now ${d##*/}|$a"
  done
  for e in $now; do case " $nics " in *" $e "*) ;; *) echo "TINYGUEST net+ ${e%%|*} mac=${e#*|}" ;; esac; done
  for e in $nics; do case " $now " in *" $e "*) ;; *) echo "TINYGUEST net- ${e%%|*} mac=${e#*|}" ;; esac; done
  nics=$now
}

n=0
while :; do
  scan
  n=$((n + 1))
  read -r up _ </proc/uptime
  echo "TINYGUEST counter=$n uptime=$up"
  sleep 1
done
