package ovstest

// sysSetns is setns(2)'s number. Package syscall's tables for amd64, 386
// and ppc64 predate the call; the other architectures take it from there.
const sysSetns = 308
