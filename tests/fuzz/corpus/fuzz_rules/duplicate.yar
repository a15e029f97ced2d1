rule a { condition: true }
rule a { condition: false }
