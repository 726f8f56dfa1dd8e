package ovstest

const sysSetns = 350 // see setns_linux_amd64.go
