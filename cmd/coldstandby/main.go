// Command coldstandby acts on a data centre described by a site file
// (package failover/site): it validates the file, shows and applies its
// difference with the store, shows the servers, plans and explains a
// failover without touching anything, reports coverage, and runs
// failovers, failbacks, recovery and repairs.
//
//	coldstandby validate                 check the site file; every problem with its path and line
//	coldstandby diff                     what apply would change in the store
//	coldstandby apply                    write the site into the store (keeps runtime state)
//	coldstandby status                   the server table
//	coldstandby plan SERVER              dry run: the plan, why its spare won, the steps
//	coldstandby coverage                 which active servers have a spare now, per class
//	coldstandby failover SERVER --yes    fail SERVER over now
//	coldstandby failback HOME            move HOME's workload back to it
//	coldstandby mark-standby SERVER      return a repaired server to the standby pool
//	coldstandby recover                  finish or roll back unfinished failovers
//	coldstandby journal [ID]             unfinished failovers, or one failover's journal
//	coldstandby schema                   the site file's JSON Schema
//	coldstandby serve                    run the daemon: API, metrics, status page (package daemon)
//
// The site file is --site, else $COLDSTANDBY_SITE, else ./site.yaml. The
// store is the site's (a bbolt file relative to the site file by default,
// etcd when the site names endpoints) or the bbolt file --state. A store
// with no records gets the site applied first. Output is a table, or JSON
// with -o json.
//
// Exit codes:
//
//	0  success
//	1  failure (a device or store error, a failover that did not complete)
//	2  usage (unknown command or flag, missing argument, failover without --yes)
//	3  invalid (the site file, or the records, have problems)
//	4  no spare (plan or failover found none; coverage: an active server has none)
//	5  conflict (apply refused or lost a race; a server is busy or reserved)
//	6  not found (no such server or failover)
//	7  fencing failed (the failed server could not be confirmed off; disks untouched)
//	8  diff found changes
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/coldstandby/coldstandby/drivers/builtin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, reg: builtin.Registry()})
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK = iota
	exitFailure
	exitUsage
	exitInvalid
	exitNoSpare
	exitConflict
	exitNotFound
	exitFencing
	exitChanges
)
