// System test: the dashboard the hypervisor serves at GET / (docs/api.md,
// linker/lwip/dashboard.html), in a real browser: Debian's Chromium,
// headless, driven by puppeteer-core. Two busy flat guests run under
// QEMU's AMD-V; the browser reaches the hypervisor's management address
// through a port QEMU forwards, types the token, and sees both VMs
// running with their plots filling as samples come in; it pauses one
// with its button and sees it paused, which the API confirms, while the
// other's CPU plot goes on. Screenshots before and after the pause stay
// in build/test/artifacts/ for a person to look at.
import { mkdirSync, statSync } from "node:fs";
import puppeteer, { type Page } from "puppeteer-core";
import { describe, expect, it } from "vitest";
import type { Module } from "../../tools/harness/index";
import { bootWithHttpApi } from "../../tools/harness/httpapi";

const CHROMIUM = "/usr/bin/chromium";
const TOKEN = "dashboard-s3cret";
const ARTIFACTS = "build/test/artifacts";
const busy = (name: string): Module => ({ path: "build/guests/busy.bin", args: `vm=${name} mem=4` });

// What a row of the table shows: the state, and each plot's sample count.
async function rowOf(page: Page, vm: string) {
  return page.$eval(`tr[data-vm="${vm}"]`, (tr) => ({
    state: tr.querySelector("td.state")!.textContent,
    cpu: Number(tr.querySelector("td.cpu span")!.textContent),
    samples: Number((tr.querySelector("td.cpu canvas") as HTMLCanvasElement).dataset.samples),
    // Pixels the CPU plot has drawn: a line, not an empty box.
    inked: (() => {
      const canvas = tr.querySelector("td.cpu canvas") as HTMLCanvasElement;
      const pixels = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 3; i < pixels.length; i += 4) n += pixels[i] > 0 ? 1 : 0;
      return n;
    })(),
  }));
}

describe("the dashboard in Chromium", () => {
  it("lists the VMs, plots them live, and pauses one with its button", async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const { machine, base, client } = await bootWithHttpApi([busy("alpha"), busy("beta")], TOKEN);
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      // As root (CI), Chromium's sandbox cannot start; the page is our own.
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
    try {
      const page = await browser.newPage();
      await page.setViewport({ width: 1600, height: 300 });
      const response = await page.goto(`${base}/`, { waitUntil: "load" });
      expect(response!.headers()["content-type"]).toBe("text/html; charset=utf-8");
      await page.type("#token", TOKEN);
      await page.click("#login button");
      await page.waitForSelector("tr[data-vm=\"beta\"]", { timeout: 30_000 });
      const host = await page.$eval("#host", (e) => e.textContent);
      expect(host).toMatch(/^Typervisor \d+\.\d+\.\d+, 1 CPU, \d+ MiB free, up \d+ s$/);
      // The plots fill, a sample a second.
      await page.waitForFunction(
        () => Number(document.querySelector("tr[data-vm=\"beta\"] td.cpu canvas")?.getAttribute("data-samples")) >= 4,
        { timeout: 60_000 },
      );
      const before = await rowOf(page, "beta");
      expect(before.state).toBe("running");
      expect(before.inked).toBeGreaterThan(0);
      expect((await rowOf(page, "alpha")).state).toBe("running");
      await page.screenshot({ path: `${ARTIFACTS}/dashboard-running.png` });

      // Paused with its button: the table and the API agree.
      await page.click("tr[data-vm=\"alpha\"] button[data-action=\"pause\"]");
      await page.waitForFunction(
        () => document.querySelector("tr[data-vm=\"alpha\"] td.state")?.textContent === "paused",
        { timeout: 30_000 },
      );
      expect((await client.info("alpha")).state).toBe("paused");
      // Its CPU falls to nothing while beta's plot goes on.
      await page.waitForFunction(
        () => Number(document.querySelector("tr[data-vm=\"alpha\"] td.cpu span")?.textContent) === 0,
        { timeout: 30_000 },
      );
      const after = await rowOf(page, "beta");
      expect(after.samples).toBeGreaterThan(before.samples);
      expect(after.cpu).toBeGreaterThan(0);
      expect(await page.$eval("tr[data-vm=\"alpha\"] button[data-action=\"resume\"]", (b) => b.disabled)).toBe(false);
      // Start is for a stopped VM only.
      expect(await page.$eval("tr[data-vm=\"alpha\"] button[data-action=\"start\"]", (b) => b.disabled)).toBe(true);
      await page.screenshot({ path: `${ARTIFACTS}/dashboard-paused.png` });
      for (const shot of ["running", "paused"]) {
        expect(statSync(`${ARTIFACTS}/dashboard-${shot}.png`).size).toBeGreaterThan(5_000);
      }
    } finally {
      await browser.close();
      machine.kill();
    }
  }, 240_000);
});
