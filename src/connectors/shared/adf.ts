/**
 * Plain text to and from Atlassian Document Format, the JSON document Jira Cloud REST v3 takes and returns for
 * descriptions and comments (https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/).
 * Blank lines separate paragraphs; single line breaks become hard breaks.
 */
export interface AdfNode {
  type: string
  text?: string
  content?: AdfNode[]
  attrs?: Record<string, unknown>
}

export interface AdfDoc extends AdfNode {
  type: 'doc'
  version: 1
  content: AdfNode[]
}

export function textToAdf(text: string): AdfDoc {
  const paragraphs = text
    .replace(/\r\n?/g, '\n')
    .split(/\n{2,}/)
    .filter((p) => p.trim() !== '')
  return {
    type: 'doc',
    version: 1,
    content: paragraphs.map((p) => {
      const content: AdfNode[] = []
      p.split('\n').forEach((line, i) => {
        if (i > 0) content.push({ type: 'hardBreak' })
        if (line) content.push({ type: 'text', text: line })
      })
      return { type: 'paragraph', content }
    }),
  }
}

const BLOCKS = new Set(['paragraph', 'heading', 'blockquote', 'codeBlock', 'listItem', 'rule', 'panel'])

/** The text of an ADF document (or any node), block nodes on their own lines. */
export function adfToText(node: unknown): string {
  const out: string[] = []
  const walk = (n: unknown) => {
    if (!n || typeof n !== 'object') return
    const { type, text, content } = n as AdfNode
    if (type === 'text' && typeof text === 'string') out.push(text)
    else if (type === 'hardBreak') out.push('\n')
    else if (type === 'mention' || type === 'emoji') {
      const attrs = (n as AdfNode).attrs
      if (typeof attrs?.text === 'string') out.push(attrs.text)
    }
    if (Array.isArray(content)) {
      content.forEach((child, i) => {
        walk(child)
        const childType = (child as AdfNode | undefined)?.type
        if (childType && BLOCKS.has(childType) && i < content.length - 1) out.push('\n\n')
      })
    }
  }
  walk(node)
  return out.join('')
}

/** Whether a value has the shape of an ADF document, as Jira requires for rich-text fields. */
export function isAdfDoc(value: unknown): value is AdfDoc {
  const v = value as Partial<AdfDoc> | null
  return !!v && v.type === 'doc' && v.version === 1 && Array.isArray(v.content)
}
