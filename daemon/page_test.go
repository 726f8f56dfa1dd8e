package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/daemon"
	"github.com/coldstandby/coldstandby/internal/testpeer"
)

// browser starts a headless Chromium for the test (the Debian package
// chromium; missing, the test fails in CI and is skipped elsewhere) and
// collects what the page says is wrong: console errors and warnings,
// uncaught exceptions, browser log errors (a failed load), and requests
// to another origin than base.
func browser(t *testing.T, base string) (context.Context, func() []string) {
	t.Helper()
	exe := testpeer.LookPath(t, "chromium", "chromium")[0]
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	var wg sync.WaitGroup
	t.Cleanup(func() { cancelCtx(); cancelAlloc(); wg.Wait() })
	// The first action starts the browser, which lives as long as its
	// context: not a context with a timeout.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	var mu sync.Mutex
	var problems []string
	add := func(s string) {
		mu.Lock()
		problems = append(problems, s)
		mu.Unlock()
	}
	console := chromedp.Console(ctx)
	requests := chromedp.Events(ctx, network.RequestWillBeSent)
	wg.Go(func() {
		for m, err := range console {
			if err != nil {
				return
			}
			switch m.Type {
			case chromedp.ConsoleError, chromedp.ConsoleWarning, chromedp.ConsoleException, "assert":
				add(fmt.Sprintf("console %s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line+1))
			}
		}
	})
	wg.Go(func() {
		for ev, err := range requests {
			if err != nil {
				return
			}
			if u := ev.Request.URL; !strings.HasPrefix(u, base) && !strings.HasPrefix(u, "data:") && u != "about:blank" {
				add("request to another origin: " + u)
			}
		}
	})
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

// shot saves a screenshot of the page (or of the viewport only) in
// $COLDSTANDBY_SCREENSHOTS when it is set, for a person to look at.
func shot(t *testing.T, ctx context.Context, name string, viewport bool) {
	t.Helper()
	dir := os.Getenv("COLDSTANDBY_SCREENSHOTS")
	if dir == "" {
		return
	}
	a := chromedp.FullScreenshot(100)
	if viewport {
		a = chromedp.CaptureScreenshot()
	}
	png, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	must(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
}

// The status page in a real browser: it loads with no console error and
// no request elsewhere, shows the servers, coverage and a failover the
// test triggers through the API and one the watcher finds, refreshes
// itself, and fits a phone's width.
func TestStatusPageInChromium(t *testing.T) {
	sm, r := demo(t, func(c *daemon.Config) { c.PageRefresh = 200 * time.Millisecond })
	base := r.srv.URL
	ctx, problems := browser(t, base)
	run := func(what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := chromedp.Do(c, actions...); err != nil {
			t.Fatalf("%s: %v (page problems: %v)", what, err, problems())
		}
	}
	eval := func(expr string, out any) {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		raw, err := chromedp.Run(c, chromedp.Evaluate[[]byte](expr))
		if err == nil {
			err = json.Unmarshal(raw, out)
		}
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
	}

	began := time.Now()
	run("load the page", 20*time.Second, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`body[data-renders] #servers tbody tr`)))
	firstRender := time.Since(began)
	var timing map[string]float64
	eval(`(() => {
		const n = performance.getEntriesByType("navigation")[0];
		const r = performance.getEntriesByName("coldstandby-rendered")[0];
		return {domContentLoaded: n.domContentLoadedEventEnd, load: n.loadEventEnd, rendered: r ? r.startTime : -1};
	})()`, &timing)
	t.Logf("page: first render %v after navigation began (wall clock); navigation timing (ms): %v", firstRender.Round(time.Millisecond), timing)

	var rows int
	var who, site string
	eval(`document.querySelectorAll("#servers tbody tr").length`, &rows)
	eval(`document.getElementById("who").textContent`, &who)
	eval(`document.getElementById("site").textContent`, &site)
	if rows != 12 || !strings.Contains(who, "leader") || !strings.Contains(site, "demo") {
		t.Errorf("page shows %d servers, %q, %q", rows, who, site)
	}
	var classes int
	eval(`document.querySelectorAll("#classes tbody tr").length`, &classes)
	if classes == 0 {
		t.Error("no hardware class in the coverage table")
	}
	shot(t, ctx, "page-before.png", false)

	// A failover through the API and one the watcher finds.
	code, f := postFault(t, base, map[string]any{"server": "srv01", "type": "processor", "detail": "IERR from the page test"})
	if code != http.StatusAccepted {
		t.Fatalf("POST /v1/faults: %d %+v", code, f)
	}
	must(t, sm.world.FailServer("srv05", bmc.FaultPowerSupply))
	var wf daemon.Fault
	eventually(t, "the watcher's failover", func() bool {
		var list struct{ Faults []daemon.Fault }
		call(t, base, "GET", "/v1/faults", nil, &list)
		for _, x := range list.Faults {
			if x.Server == "srv05" && x.Failover != "" {
				wf = x
				return true
			}
		}
		return false
	})
	for _, id := range []string{f.Failover, wf.Failover} {
		run("the page shows failover "+id+" done", 20*time.Second,
			chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`article[data-failover=%q] .o-done`, id))))
	}
	var srv01, steps string
	eval(`document.querySelector('tr[data-server="srv01"]').textContent`, &srv01)
	eval(fmt.Sprintf(`document.querySelector('article[data-failover=%q] .timeline').textContent`, f.Failover), &steps)
	if !strings.Contains(srv01, "failed") || !strings.Contains(srv01, "srv02") {
		t.Errorf("srv01's row after its failover: %q", srv01)
	}
	for _, step := range []string{"fence", "storage", "zone", "vlan", "boot", "commit"} {
		if !strings.Contains(steps, step) {
			t.Errorf("the timeline lacks %s: %q", step, steps)
		}
	}
	shot(t, ctx, "page-after.png", false)

	// A phone: no horizontal scrolling, rows as cards, the failover there.
	var fits bool
	var headDisplay string
	run("phone width", 10*time.Second,
		chromedp.EmulateViewport(375, 812, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`article[data-failover=%q] .o-done`, f.Failover))))
	eval(`document.documentElement.scrollWidth <= window.innerWidth &&
			[...document.querySelectorAll("tr, article")].every(e => e.getBoundingClientRect().right <= window.innerWidth + 0.5)`, &fits)
	eval(`getComputedStyle(document.querySelector("#servers thead")).display`, &headDisplay)
	if !fits || headDisplay != "none" {
		t.Errorf("at 375 px: fits=%v, table head display %q (want cards, no horizontal scroll)", fits, headDisplay)
	}
	shot(t, ctx, "page-phone.png", true)
	if p := problems(); len(p) > 0 {
		t.Errorf("the page reported problems:\n%s", strings.Join(p, "\n"))
	}
}
