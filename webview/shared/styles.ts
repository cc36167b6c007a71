// Installs a stylesheet without an inline <style> or style attribute: a constructable stylesheet
// is allowed under the CSP (style-src has no 'unsafe-inline'); a nonce'd <style> is the fallback.
export function installStyles(cssText: string): void {
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(cssText);
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
  } catch {
    const nonce = document.querySelector<HTMLScriptElement>('script[nonce]')?.nonce ?? '';
    const style = document.createElement('style');
    style.nonce = nonce;
    style.textContent = cssText;
    document.head.appendChild(style);
  }
}
