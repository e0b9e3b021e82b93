// livebg serve: the page. Talks only to this server's API (POST /api/jobs, GET /api/jobs/{id}, ...);
// every error shown is the server's own one-sentence message.

const $ = (id) => document.getElementById(id);
const POLL_MS = 400;
const CLIP_SUFFIX = /\.(mp4|m4v|mov|mkv|webm|avi|gif|mpg|mpeg|ts)$/i;
const FORMATS = {
  composite: [["mp4", "MP4 (H.264, plays everywhere)"], ["webm", "WebM (VP9)"]],
  transparent: [["mov", "MOV, ProRes 4444 (editing programs)"], ["webm", "WebM (plays in browsers)"]],
  alpha: [["mp4", "MP4 (H.264)"], ["webm", "WebM (VP9)"]],
};
const FORMAT_HELP = {
  mp4: "",
  webm: "WebM keeps the sound only of WebM and MKV clips.",
  mov: "Keeps the sound. Browsers do not play ProRes: download it.",
};
const HELP = {
  composite: "The person in front of the background you choose below.",
  transparent: "The person cut out: PNG for pictures, WebM or MOV with alpha for clips.",
  alpha: "The matte: white where the person is, black elsewhere.",
};

const state = {
  file: null, kind: null, beforeUrl: null, ownFile: null,
  xhr: null, jobId: null, timer: null, limits: null, lastResult: null,
};

// ---------------------------------------------------------------------------------------------
// Start-up: the bundled backgrounds and the server's limits

async function init() {
  wire();
  try {
    const info = await getJson("/api/backgrounds");
    state.limits = info;
    $("limit-note").textContent = `Up to ${Math.round(info.max_upload_bytes / 2 ** 20)} MB.`;
    const own = document.querySelector("input[name=bg][value=own]").closest(".tile");
    for (const bg of info.backgrounds) {
      const label = document.createElement("label");
      label.className = "tile";
      const input = Object.assign(document.createElement("input"), { type: "radio", name: "bg", value: `bundled:${bg.name}` });
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      const img = Object.assign(document.createElement("img"), { src: bg.thumbnail, alt: "", loading: "lazy" });
      swatch.append(img);
      const name = document.createElement("span");
      name.className = "tile-name bundled";
      name.textContent = bg.name;
      label.append(input, swatch, name);
      own.before(label);
    }
    const health = await getJson("/healthz");
    $("server-note").textContent = `Runs ${health.model} on this server; files are deleted after a while.`;
  } catch (err) {
    showError(err.message);
  }
  syncOptions();
}

function wire() {
  const input = $("file");
  $("pick").addEventListener("click", () => input.click());
  $("change").addEventListener("click", () => input.click());
  input.addEventListener("change", () => input.files[0] && choose(input.files[0]));

  const drop = $("drop");
  for (const type of ["dragenter", "dragover"]) {
    document.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const type of ["dragleave", "drop"]) {
    document.addEventListener(type, (e) => { e.preventDefault(); if (type === "drop" || !e.relatedTarget) drop.classList.remove("over"); });
  }
  document.addEventListener("drop", (e) => {
    const file = e.dataTransfer && e.dataTransfer.files[0];
    if (file) choose(file);
  });

  $("options").addEventListener("change", syncOptions);
  $("options").addEventListener("input", syncOptions);
  $("options").addEventListener("submit", (e) => { e.preventDefault(); start(); });
  $("own-pick").addEventListener("click", () => $("own-file").click());
  $("own-file").addEventListener("change", () => {
    state.ownFile = $("own-file").files[0] || null;
    $("own-name").textContent = state.ownFile ? state.ownFile.name : "none chosen";
  });
  $("format").addEventListener("change", () => {
    // WebM cannot take the AAC sound of most MP4 and MOV clips: offer it silent unless the clip is WebM/MKV.
    if ($("format").value === "webm" && state.file && !/\.(webm|mkv)$/i.test(state.file.name)) $("audio").checked = false;
    syncOptions();
  });
  $("still").addEventListener("error", () => { $("still").hidden = true; $("no-preview").hidden = false; });
  $("split").addEventListener("input", () => $("compare").style.setProperty("--pos", `${$("split").value}%`));
  $("cancel").addEventListener("click", cancel);
}

// ---------------------------------------------------------------------------------------------
// The file

function choose(file) {
  cancel();
  if (state.beforeUrl) URL.revokeObjectURL(state.beforeUrl);
  state.file = file;
  state.kind = file.type.startsWith("video/") || CLIP_SUFFIX.test(file.name) ? "clip" : "image";
  state.beforeUrl = URL.createObjectURL(file);
  state.lastResult = null;
  hideError();
  $("note").hidden = true;
  $("no-preview").hidden = true;
  $("drop").hidden = true;
  $("view").hidden = false;
  $("file-row").hidden = false;
  $("download").hidden = true;
  $("file-name").textContent = `${file.name} · ${size(file.size)}`;
  showOriginal();
  syncOptions();
  if (state.limits && file.size > state.limits.max_upload_bytes) showError(state.limits.too_large);
}

function showOriginal() {
  $("compare").hidden = true;
  $("note").hidden = true;
  const clip = $("clip");
  if (state.kind === "clip") {
    $("still").hidden = true;
    clip.classList.remove("checker");
    clip.muted = true;
    clip.src = state.beforeUrl;
    clip.hidden = false;
  } else {
    clip.hidden = true;
    clip.removeAttribute("src");
    $("still").src = state.beforeUrl;
    $("still").hidden = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Options

function result() { return document.querySelector("input[name=result]:checked").value; }
function background() { return document.querySelector("input[name=bg]:checked").value; }

function syncOptions() {
  const mode = result();
  const bg = background();
  $("result-help").textContent = HELP[mode];
  $("bg-group").disabled = mode !== "composite";
  $("blur-row").hidden = bg !== "blur";
  $("colour-row").hidden = bg !== "colour";
  $("own-row").hidden = bg !== "own";
  $("blur-value").textContent = $("blur").value;
  $("colour-value").textContent = $("colour").value;
  $("colour-swatch").style.background = $("colour").value;

  const clip = state.kind === "clip";
  $("clip-group").hidden = !clip;
  const select = $("format");
  const wanted = FORMATS[mode].map(([value]) => value).join();
  if (select.dataset.mode !== wanted) {
    select.replaceChildren(...FORMATS[mode].map(([value, text]) => new Option(text, value)));
    select.dataset.mode = wanted;
  }
  $("format-help").textContent = FORMAT_HELP[select.value] || "";
  const go = $("go");
  go.disabled = !state.file || state.xhr !== null || state.jobId !== null;
  if (!state.file) go.textContent = "Choose a file first";
  else if (state.lastResult) go.textContent = "Run again with these options";
  else go.textContent = mode === "composite" ? "Replace the background" : "Remove the background";
}

function formData() {
  const data = new FormData();
  data.append("file", state.file, state.file.name);
  const mode = result();
  if (mode === "alpha") {
    data.append("output_type", "alpha");
  } else if (mode === "transparent") {
    data.append("background", "transparent");
  } else {
    const bg = background();
    if (bg === "blur") data.append("background", `blur:${$("blur").value}`);
    else if (bg === "colour") data.append("background", $("colour").value);
    else if (bg.startsWith("bundled:")) data.append("background", bg.slice(8));
    else if (bg === "own") {
      if (!state.ownFile) throw new Error("choose a picture or clip for your own background first");
      data.append("background_file", state.ownFile, state.ownFile.name);
    }
  }
  if (state.kind === "clip") {
    data.append("format", $("format").value);
    if (!$("audio").checked) data.append("no_audio", "true");
  }
  return data;
}

// ---------------------------------------------------------------------------------------------
// A job: upload, poll, show

function start() {
  if (!state.file) return;
  $("note").hidden = true;
  let data;
  try {
    data = formData();
  } catch (err) {
    showError(err.message);
    return;
  }
  hideError();
  busy("Uploading…", 0, "");
  const xhr = new XMLHttpRequest();
  state.xhr = xhr;
  syncOptions();
  xhr.open("POST", "/api/jobs");
  xhr.responseType = "json";
  xhr.upload.addEventListener("progress", (e) => {
    if (e.lengthComputable) busy(`Uploading… ${Math.round((e.loaded / e.total) * 100)}%`, e.loaded / e.total, size(e.total));
  });
  xhr.addEventListener("load", () => {
    state.xhr = null;
    const body = xhr.response || {};
    if (xhr.status === 202 && body.id) {
      state.jobId = body.id;
      poll();
    } else {
      finish();
      showError(body.error || `the server answered ${xhr.status}`);
    }
  });
  xhr.addEventListener("error", () => {
    state.xhr = null;
    finish();
    showError("the connection to the server was lost; is livebg serve still running?");
  });
  xhr.send(data);
}

async function poll() {
  const id = state.jobId;
  if (!id) return;
  let job;
  try {
    job = await getJson(`/api/jobs/${id}`);
  } catch (err) {
    if (state.jobId === id) { finish(); showError(err.message); }
    return;
  }
  if (state.jobId !== id) return;
  if (job.state === "queued") {
    busy("Waiting in line…", null, job.queue_position ? `${job.queue_position} ahead of you` : "You are next");
  } else if (job.state === "running") {
    if (job.kind === "clip" && job.frames_total) {
      const pct = Math.round((job.progress || 0) * 100);
      const eta = job.eta_seconds != null ? ` · about ${duration(job.eta_seconds)} left` : "";
      busy(`Processing… ${pct}%`, job.progress || 0, `${job.frames_done} of ${job.frames_total} frames${eta}`);
    } else {
      busy(job.kind === "clip" ? "Processing…" : "Working on your picture…", null, "");
    }
  } else if (job.state === "done") {
    finish();
    show(job);
    return;
  } else {
    finish();
    showError(job.error || `the job was ${job.state}`);
    return;
  }
  state.timer = setTimeout(poll, POLL_MS);
}

function show(job) {
  const url = job.result;
  state.lastResult = job;
  const see = result() !== "composite";
  if (job.kind === "image") {
    $("still").hidden = true;
    $("before").src = state.beforeUrl;
    $("after").addEventListener("load", () => {
      const after = $("after");
      $("compare").style.setProperty("--ratio", `${after.naturalWidth} / ${after.naturalHeight}`);
    }, { once: true });
    $("after").src = url;
    $("compare").classList.toggle("checker", see);
    $("compare").hidden = false;
    $("split").value = 50;
    $("compare").style.setProperty("--pos", "50%");
  } else if (job.media_type === "video/quicktime") {
    $("note").textContent = "Done. Browsers do not play ProRes MOV files: download it for your editing program.";
    $("note").hidden = false;
  } else {
    const clip = $("clip");
    clip.classList.toggle("checker", see);
    clip.muted = false;
    clip.src = url;
    clip.hidden = false;
  }
  const link = $("download");
  link.href = `${url}?download=1`;
  link.download = job.filename;
  link.textContent = `Download ${job.filename.split(".").pop().toUpperCase()}`;
  link.hidden = false;
  syncOptions();
  link.focus({ preventScroll: true });
  $("view").scrollIntoView({ block: "nearest" });
}

function cancel() {
  if (state.xhr) { state.xhr.abort(); state.xhr = null; }
  if (state.jobId) {
    fetch(`/api/jobs/${state.jobId}`, { method: "DELETE" }).catch(() => {});
    state.jobId = null;
  }
  finish();
}

function finish() {
  clearTimeout(state.timer);
  state.timer = null;
  state.jobId = null;
  $("busy").hidden = true;
  syncOptions();
}

// ---------------------------------------------------------------------------------------------
// Little helpers

function busy(text, fraction, detail) {
  $("busy").hidden = false;
  $("busy-text").textContent = text;
  $("busy-detail").textContent = detail;
  const bar = $("bar");
  bar.parentElement.classList.toggle("indeterminate", fraction === null);
  bar.style.width = fraction === null ? "" : `${Math.round(fraction * 100)}%`;
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
}

function hideError() { $("error").hidden = true; }

async function getJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  let body = {};
  try { body = await response.json(); } catch { /* not JSON: fall through to the status */ }
  if (!response.ok) throw new Error(body.error || `the server answered ${response.status}`);
  return body;
}

function size(bytes) {
  if (bytes < 2 ** 20) return `${Math.max(1, Math.round(bytes / 1024))} KB`;
  return `${(bytes / 2 ** 20).toFixed(1)} MB`;
}

function duration(seconds) {
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

init();
