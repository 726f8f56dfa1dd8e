package ovstest

const sysSetns = 346 // see setns_linux_amd64.go
