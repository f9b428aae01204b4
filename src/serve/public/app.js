// captionkit web page: plain ES module, no build step. Talks only to this server's /v1 API.
const LOW_CONFIDENCE = 0.4;
const PARALLEL_UPLOADS = 4;

const $ = (selector, root = document) => root.querySelector(selector);
const state = { apiKey: "", counter: 0 };

const statusLog = $("#status");
/** Adds a line to the polite live log, so screen readers hear each result once. */
function announce(text) {
  const line = document.createElement("p");
  line.textContent = text;
  statusLog.append(line);
  while (statusLog.childElementCount > 8) statusLog.firstElementChild.remove();
}

function authHeaders() {
  return state.apiKey ? { "x-api-key": state.apiKey } : {};
}

function percent(value) {
  return `${Math.round(value * 100)}%`;
}

function escapeAttribute(text) {
  return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Clipboard API refused (insecure context or no permission): fall back to a hidden textarea.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

/** "the upper left", "the centre"... for the grid cell with the most attention; null for a flat map. */
function describeRegion(weights, gridH, gridW) {
  const mean = weights.reduce((a, b) => a + b, 0) / weights.length;
  // A flat map has no place to name; saying "upper left" would invent one.
  if (Math.max(...weights) < 1.5 * mean) return null;
  let best = 0;
  for (let i = 1; i < weights.length; i++) if (weights[i] > weights[best]) best = i;
  const row = Math.floor(best / gridW) / Math.max(1, gridH - 1);
  const col = (best % gridW) / Math.max(1, gridW - 1);
  const vertical = row < 1 / 3 ? "upper" : row > 2 / 3 ? "lower" : "middle";
  const horizontal = col < 1 / 3 ? "left" : col > 2 / 3 ? "right" : "centre";
  if (vertical === "middle" && horizontal === "centre") return "the centre";
  if (vertical === "middle") return `the middle ${horizontal}`;
  return `the ${vertical} ${horizontal === "centre" ? "middle" : horizontal}`;
}

/** Paints one word's attention grid over the image, upscaled smoothly by the browser. */
function drawHeatmap(canvas, weights, gridH, gridW) {
  const small = document.createElement("canvas");
  small.width = gridW;
  small.height = gridH;
  const context = small.getContext("2d");
  const pixels = context.createImageData(gridW, gridH);
  const max = Math.max(...weights) || 1;
  weights.forEach((weight, i) => {
    // A spotlight: dim where the model did not look. Works on any image colours and for colour-blind users.
    const v = weight / max;
    pixels.data[i * 4] = 0;
    pixels.data[i * 4 + 1] = 0;
    pixels.data[i * 4 + 2] = 0;
    pixels.data[i * 4 + 3] = Math.round(200 * (1 - v));
  });
  context.putImageData(pixels, 0, 0);
  canvas.width = gridW * 32;
  canvas.height = gridH * 32;
  const target = canvas.getContext("2d");
  target.imageSmoothingEnabled = true;
  target.clearRect(0, 0, canvas.width, canvas.height);
  target.drawImage(small, 0, 0, canvas.width, canvas.height);
}

function setupHeatmap(card, result) {
  const block = $(".heat-block", card);
  if (!result.attention || !result.attention_grid || result.attention.length === 0) return;
  const [gridH, gridW] = result.attention_grid;
  const canvas = $(".heatmap", card);
  const toggle = $(".toggle-heat", card);
  const words = $(".words", card);
  const description = $(".heat-description", card);
  let selected = 0;
  const buttons = result.tokens.slice(0, result.attention.length).map((token, index) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = token;
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", () => {
      selected = index;
      show(true);
    });
    words.append(button);
    return button;
  });
  const show = (on) => {
    toggle.setAttribute("aria-pressed", String(on));
    toggle.textContent = on ? "Hide heatmap" : "Show heatmap";
    canvas.hidden = !on;
    for (const [index, button] of buttons.entries()) {
      button.setAttribute("aria-pressed", String(on && index === selected));
    }
    if (on) {
      const weights = result.attention[selected];
      drawHeatmap(canvas, weights, gridH, gridW);
      const region = describeRegion(weights, gridH, gridW);
      const word = `“${result.tokens[selected]}”`;
      description.textContent = region
        ? `For ${word}, the model looked mostly at ${region} of the image.`
        : `For ${word}, the model's attention was spread over the whole image, with no clear focus.`;
    } else {
      description.textContent = "Heatmap hidden.";
    }
  };
  toggle.addEventListener("click", () => show(toggle.getAttribute("aria-pressed") !== "true"));
  block.hidden = false;
}

function fillAlternatives(card, result, altText) {
  const list = $(".alternatives", card);
  if (result.alternatives.length === 0) {
    $(".alternatives-block", card).hidden = true;
    return;
  }
  result.alternatives.forEach((alternative, index) => {
    const item = document.createElement("li");
    const text = document.createElement("span");
    text.id = `alt-${card.dataset.id}-option-${index}`;
    text.textContent = `${alternative.caption} (${percent(alternative.confidence)})`;
    const use = document.createElement("button");
    use.type = "button";
    use.textContent = "Use this";
    // The visible name stays "Use this" (speech users say what they see); the caption is the description.
    use.setAttribute("aria-describedby", text.id);
    use.addEventListener("click", () => {
      altText.value = alternative.caption;
      altText.focus();
      announce(`Alt text set to: ${alternative.caption}`);
    });
    item.append(text, use);
    list.append(item);
  });
}

function showResult(card, file, result) {
  const id = card.dataset.id;
  $(".pending", card).hidden = true;
  const altText = $(".alt-text", card);
  altText.id = `alt-${id}`;
  $(".alt-label", card).htmlFor = altText.id;
  altText.value = result.caption;
  const low = result.low_confidence ?? result.confidence < LOW_CONFIDENCE;
  $(".confidence", card).textContent = `Confidence: ${percent(result.confidence)} (model ${result.model})`;
  $(".low-warning", card).hidden = !low;
  // The preview says what the picture shows: the caption, and whatever the user edits it into.
  const preview = $(".preview", card);
  preview.alt = result.caption;
  altText.addEventListener("input", () => {
    preview.alt = altText.value;
  });
  $(".copy-alt", card).addEventListener("click", async () => {
    const ok = await copyText(altText.value);
    announce(
      ok ? `Alt text copied: ${altText.value}` : "Could not copy; select the text and copy it yourself.",
    );
  });
  $(".copy-snippet", card).addEventListener("click", async () => {
    const snippet = `<img src="${escapeAttribute(file.name)}" alt="${escapeAttribute(altText.value)}">`;
    const ok = await copyText(snippet);
    announce(ok ? "Image tag copied." : "Could not copy; select the text and copy it yourself.");
  });
  fillAlternatives(card, result, altText);
  setupHeatmap(card, result);
  $(".caption-block", card).hidden = false;
  announce(`${file.name}: ${result.caption} Confidence ${percent(result.confidence)}${low ? ", low" : ""}.`);
}

function showError(card, file, message) {
  $(".pending", card).hidden = true;
  const error = $(".error", card);
  error.textContent = `Could not describe this file: ${message}`;
  error.hidden = false;
  announce(`${file.name}: could not describe it. ${message}`);
}

function addCard(file) {
  state.counter += 1;
  const fragment = $("#result-template").content.cloneNode(true);
  const card = fragment.querySelector(".result");
  card.dataset.id = String(state.counter);
  const heading = $(".name", card);
  heading.id = `name-${state.counter}`;
  heading.textContent = file.name;
  $("article", card).setAttribute("aria-labelledby", heading.id);
  const preview = $(".preview", card);
  preview.src = URL.createObjectURL(file);
  // Until there is a caption the picture is not described; the heading names the file.
  preview.alt = "";
  $("#empty-note").hidden = true;
  $("#results").prepend(fragment);
  return card;
}

/** A busy server answers 503 with Retry-After: wait as told, a few times, before giving up. */
async function postWithRetry(file, type) {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch("/v1/captions", {
      method: "POST",
      headers: { "content-type": type, ...authHeaders() },
      body: file,
    });
    if (response.status !== 503 || attempt >= 3) return response;
    const seconds = Number(response.headers.get("retry-after")) || 1;
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  }
}

async function describe(file) {
  const card = addCard(file);
  const type = file.type.startsWith("image/") ? file.type : "application/octet-stream";
  try {
    const response = await postWithRetry(file, type);
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const message = body.error?.message ?? `server answered ${response.status}`;
      if (response.status === 401) $("#key-field").hidden = false;
      showError(card, file, message);
      return false;
    }
    showResult(card, file, body);
    return true;
  } catch (error) {
    showError(card, file, `network error (${error.message})`);
    return false;
  }
}

async function describeAll(fileList) {
  const files = [...fileList];
  if (files.length === 0) return;
  announce(`Describing ${files.length} ${files.length === 1 ? "image" : "images"}…`);
  let next = 0;
  let succeeded = 0;
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++];
      if (await describe(file)) succeeded += 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_UPLOADS, files.length) }, worker));
  if (files.length > 1) announce(`Done: ${succeeded} of ${files.length} images described.`);
}

function setupUpload() {
  const input = $("#file-input");
  input.addEventListener("change", () => {
    describeAll(input.files).finally(() => {
      input.value = "";
    });
  });
  const zone = $("#drop-zone");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    describeAll(event.dataTransfer.files);
  });
  $("#upload-form").addEventListener("submit", (event) => event.preventDefault());
  $("#api-key").addEventListener("input", (event) => {
    state.apiKey = event.target.value;
  });
}

/** Thumbnails come from /v1 like everything else (with the API key, if any), shown as blob: URLs. */
async function loadThumbnail(img, url, urls) {
  try {
    const response = await fetch(url, { headers: authHeaders() });
    if (!response.ok) throw new Error(String(response.status));
    const src = URL.createObjectURL(await response.blob());
    urls.push(src);
    img.src = src;
  } catch {
    img.hidden = true;
  }
}

function searchResult(result, urls) {
  const item = document.createElement("li");
  const thumb = document.createElement("img");
  thumb.className = "thumb";
  // The caption is written beside it, so the thumbnail adds nothing for a screen reader.
  thumb.alt = "";
  thumb.width = 96;
  thumb.height = 96;
  loadThumbnail(thumb, result.thumbnail, urls);
  const text = document.createElement("div");
  const path = document.createElement("p");
  path.className = "search-path";
  path.textContent = result.path;
  const caption = document.createElement("p");
  caption.className = "search-caption";
  caption.textContent = result.caption;
  text.append(path, caption);
  item.append(thumb, text);
  return item;
}

function setupSearch() {
  const form = $("#search-form");
  const list = $("#search-results");
  let thumbnailUrls = [];
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const query = $("#search-input").value.trim();
    if (!query) return;
    list.replaceChildren();
    for (const url of thumbnailUrls) URL.revokeObjectURL(url);
    thumbnailUrls = [];
    try {
      const response = await fetch(`/v1/search?q=${encodeURIComponent(query)}&k=20`, {
        headers: authHeaders(),
      });
      const body = await response.json();
      if (!response.ok) throw new Error(body.error?.message ?? `server answered ${response.status}`);
      for (const result of body.results) list.append(searchResult(result, thumbnailUrls));
      announce(`${body.results.length} photos found for “${query}”.`);
    } catch (error) {
      announce(`Search failed: ${error.message}`);
    }
  });
}

async function init() {
  setupUpload();
  setupSearch();
  try {
    const health = await (await fetch("/healthz")).json();
    $("#search-section").hidden = !health.search;
    $("#key-field").hidden = !health.auth;
  } catch {
    announce("The server did not answer its health check.");
  }
  document.body.dataset.ready = "true";
}

init();
