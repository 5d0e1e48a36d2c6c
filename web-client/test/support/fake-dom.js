// The few DOM features CaptionOverlay uses, enough to check what it writes.

class ClassList {
  constructor() {
    this.names = new Set();
  }

  add(name) {
    this.names.add(name);
  }

  remove(name) {
    this.names.delete(name);
  }

  contains(name) {
    return this.names.has(name);
  }

  toggle(name, force = !this.names.has(name)) {
    if (force) this.names.add(name);
    else this.names.delete(name);
    return force;
  }
}

export class FakeElement {
  constructor(tagName, ownerDocument) {
    this.tagName = tagName.toUpperCase();
    this.ownerDocument = ownerDocument;
    this.attributes = new Map();
    this.children = [];
    this.parent = null;
    this.classList = new ClassList();
    this.ownText = '';
    const properties = new Map();
    this.style = {
      setProperty: (name, value) => properties.set(name, value),
      getPropertyValue: (name) => properties.get(name) ?? '',
    };
  }

  get className() {
    return [...this.classList.names].join(' ');
  }

  set className(value) {
    this.classList.names = new Set(String(value).split(/\s+/).filter(Boolean));
  }

  get textContent() {
    return this.ownText + this.children.map((child) => child.textContent).join('');
  }

  set textContent(value) {
    for (const child of this.children) child.parent = null;
    this.children = [];
    this.ownText = String(value);
  }

  setAttribute(name, value) {
    this.attributes.set(name, String(value));
  }

  getAttribute(name) {
    return this.attributes.has(name) ? this.attributes.get(name) : null;
  }

  hasAttribute(name) {
    return this.attributes.has(name);
  }

  removeAttribute(name) {
    this.attributes.delete(name);
  }

  appendChild(child) {
    child.remove();
    child.parent = this;
    this.children.push(child);
    return child;
  }

  remove() {
    if (!this.parent) return;
    this.parent.children = this.parent.children.filter((c) => c !== this);
    this.parent = null;
  }
}

export class FakeDocument {
  constructor() {
    this.ids = new Map();
  }

  createElement(tagName) {
    return new FakeElement(tagName, this);
  }

  /** An element registered under an id, as if it were in the page. */
  element(id, tagName = 'div') {
    const element = this.createElement(tagName);
    this.ids.set(id, element);
    return element;
  }

  getElementById(id) {
    return this.ids.get(id) ?? null;
  }
}

/** The overlay's lines as [text, partial] pairs. */
export function shownLines(element) {
  return element.children.map((child) => [child.textContent, child.classList.contains('cc-partial')]);
}
