// Saving generated text (CSV) as a file the person can open in a spreadsheet.
export function download(filename: string, text: string, type = "text/csv;charset=utf-8"): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  // The browser reads the blob asynchronously after the click; free it once that is surely done.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
