//go:build linux && !amd64 && !386 && !ppc64

package ovstest

import "syscall"

const sysSetns = syscall.SYS_SETNS
