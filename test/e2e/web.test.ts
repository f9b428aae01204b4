import { existsSync, readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PhotoSearch } from "../../src/search/types.js";
import { buildServer } from "../../src/serve/index.js";
import { fakeCaptioner } from "../../src/serve/test-utils/fake-captioner.js";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.log(`skipping web page tests: ${CHROMIUM} is absent (apt-get install chromium)`);

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

interface AxeViolation {
  id: string;
  help: string;
  nodes: Array<{ target: string[] }>;
}

// Page-side code is passed as strings: this project compiles without the DOM library.
async function axeViolations(page: Page): Promise<AxeViolation[]> {
  if (!(await page.evaluate<boolean>("typeof axe !== 'undefined'")))
    await page.addScriptTag({ content: axeSource });
  return page.evaluate<AxeViolation[]>(
    "axe.run().then((r) => r.violations.map((v) => ({ id: v.id, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) })))",
  );
}

const readClipboard = (page: Page) => page.evaluate<string>("navigator.clipboard.readText()");

/** A red picture with a white patch in its upper-left corner, where the fake model "looks". */
async function redPng(): Promise<Buffer> {
  const patch = await sharp({ create: { width: 16, height: 12, channels: 3, background: "white" } })
    .png()
    .toBuffer();
  return sharp({ create: { width: 96, height: 72, channels: 3, background: { r: 230, g: 10, b: 10 } } })
    .composite([{ input: patch, left: 0, top: 0 }])
    .png()
    .toBuffer();
}

async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
    ],
  });
}

describe.skipIf(!hasChromium)("web page", () => {
  let app: FastifyInstance;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let origin: string;

  beforeAll(async () => {
    app = await buildServer({ captioner: fakeCaptioner() });
    origin = await app.listen({ host: "127.0.0.1", port: 0 });
    browser = await launch();
    // bypassCSP: the page's CSP forbids inline scripts, which is how axe gets injected.
    context = await browser.newContext({ bypassCSP: true });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
    page = await context.newPage();
    await page.goto(origin);
    await page.waitForSelector("body[data-ready=true]");
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it("passes axe before any upload and hides the search box without an index", async () => {
    expect(await axeViolations(page)).toEqual([]);
    expect(await page.isHidden("#search-section")).toBe(true);
    expect(await page.isHidden("#key-field")).toBe(true);
  });

  it("captions an uploaded image, copies it, toggles the heatmap and stays accessible", async () => {
    await page.setInputFiles("#file-input", {
      name: "red.png",
      mimeType: "image/png",
      buffer: await redPng(),
    });
    const altText = page.getByLabel("Alt text (you can edit it)");
    await expect.poll(() => altText.inputValue()).toBe("A red square.");
    await expect.poll(() => page.textContent("#status")).toContain("red.png: A red square.");
    // The picture is described by its caption, not by its file name, and follows the user's edits.
    expect(await page.getAttribute(".result:first-child .preview", "alt")).toBe("A red square.");
    expect(await page.textContent(".confidence")).toMatch(/Confidence: \d+%/);
    expect(await page.locator(".alternatives li").count()).toBe(2);

    await page.getByRole("button", { name: "Copy alt text" }).click();
    await expect.poll(() => readClipboard(page)).toBe("A red square.");
    await altText.fill('A red "square" & more');
    expect(await page.getAttribute(".result:first-child .preview", "alt")).toBe('A red "square" & more');
    await page.getByRole("button", { name: "Copy <img> snippet" }).click();
    await expect
      .poll(() => readClipboard(page))
      .toBe('<img src="red.png" alt="A red &quot;square&quot; &amp; more">');

    const toggle = page.getByRole("button", { name: "Show heatmap" });
    expect(await page.isHidden(".heatmap")).toBe(true);
    await toggle.click();
    expect(await page.isVisible(".heatmap")).toBe(true);
    expect(await page.getAttribute(".toggle-heat", "aria-pressed")).toBe("true");
    expect(await page.textContent(".heat-description")).toContain("the upper left");
    // The spotlight is clearest (least dimmed) in the upper-left cell.
    const [corner, centre] = await page.evaluate<[number, number]>(`(() => {
      const canvas = document.querySelector(".heatmap");
      const context = canvas.getContext("2d");
      const at = (x, y) => context.getImageData(x, y, 1, 1).data[3];
      return [at(8, 8), at(canvas.width / 2, canvas.height / 2)];
    })()`);
    expect(corner).toBeLessThan(centre!);
    const redWord = page.getByRole("button", { name: "red", exact: true });
    await redWord.click();
    expect(await redWord.getAttribute("aria-pressed")).toBe("true");
    expect(await page.getByRole("button", { name: "a", exact: true }).getAttribute("aria-pressed")).toBe(
      "false",
    );
    expect(await page.textContent(".heat-description")).toContain("“red”");

    const shot = join(await mkdtemp(join(tmpdir(), "captionkit-web-")), "page.png");
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`web page screenshot: ${shot}`);
    expect(await axeViolations(page)).toEqual([]);

    await page.getByRole("button", { name: "Hide heatmap" }).click();
    expect(await page.isHidden(".heatmap")).toBe(true);
  });

  it("is usable from the keyboard: the copy button is reachable with Tab and works with Enter", async () => {
    await page.evaluate("navigator.clipboard.writeText('')");
    await page.focus(".alt-text");
    await page.keyboard.press("Tab");
    expect(await page.evaluate<string>("document.activeElement.textContent")).toBe("Copy alt text");
    await page.keyboard.press("Enter");
    await expect.poll(() => readClipboard(page)).toBe('A red "square" & more');
  });

  it("captions several images dropped on the drop zone", async () => {
    const blue = await sharp({ create: { width: 20, height: 20, channels: 3, background: "blue" } })
      .png()
      .toBuffer();
    const bytes = JSON.stringify([...blue]);
    const dataTransfer = await page.evaluateHandle(`(() => {
      const transfer = new DataTransfer();
      for (const name of ["one.png", "two.png"]) {
        transfer.items.add(new File([new Uint8Array(${bytes})], name, { type: "image/png" }));
      }
      return transfer;
    })()`);
    const before = await page.locator(".result").count();
    await page.dispatchEvent("#drop-zone", "drop", { dataTransfer });
    await expect.poll(() => page.textContent("#status")).toContain("Done: 2 of 2 images described.");
    expect(await page.locator(".result").count()).toBe(before + 2);
    expect(await page.locator(".result .alt-text").first().inputValue()).toBe("A blue square.");
  });

  it("shows an error for a file that is not an image and announces it", async () => {
    await page.setInputFiles("#file-input", {
      name: "notes.txt",
      mimeType: "text/plain",
      buffer: Buffer.from("hello"),
    });
    await expect
      .poll(() => page.textContent(".result:first-child .error"))
      .toContain("not a recognised image format");
    await expect.poll(() => page.textContent("#status")).toContain("notes.txt: could not describe it");
    expect(await axeViolations(page)).toEqual([]);
  });
});

describe.skipIf(!hasChromium)("web page with a photo index", () => {
  it("lists results with thumbnails and paths relative to the indexed folder", async () => {
    const photo = join(await mkdtemp(join(tmpdir(), "captionkit-web-index-")), "dog.png");
    await sharp(await redPng()).toFile(photo);
    const search: PhotoSearch = {
      async search(query) {
        const result = {
          id: 7,
          image: "/photos/pets/dog.jpg",
          score: 1.5,
          caption: `A dog (${query}).`,
          good: true,
        };
        return { method: "embedding", results: [result], noGoodMatch: false };
      },
      count: () => 1,
      imagePath: (id) => (id === 7 ? photo : undefined),
      folder: () => "/photos",
      close() {},
    };
    const app = await buildServer({ captioner: fakeCaptioner(), search });
    const browser = await launch();
    try {
      const origin = await app.listen({ host: "127.0.0.1", port: 0 });
      const context = await browser.newContext({ bypassCSP: true });
      const page = await context.newPage();
      await page.goto(origin);
      await page.waitForSelector("body[data-ready=true]");
      expect(await page.isVisible("#search-section")).toBe(true);
      await page.getByLabel("Words to look for").fill("dog on grass");
      await page.keyboard.press("Enter");
      await expect.poll(() => page.textContent("#search-results .search-path")).toBe("pets/dog.jpg");
      expect(await page.textContent("#search-results .search-caption")).toBe("A dog (dog on grass).");
      expect(await page.textContent("#search-results")).not.toContain("/photos/");
      // The thumbnail arrived (a JPEG made by the server from the indexed file) and decoded.
      await expect
        .poll(() => page.evaluate<number>("document.querySelector('#search-results .thumb').naturalWidth"))
        .toBe(96);
      expect(await page.getAttribute("#search-results .thumb", "src")).toMatch(/^blob:/);
      expect(await axeViolations(page)).toEqual([]);
    } finally {
      await browser.close();
      await app.close();
    }
  });
});
