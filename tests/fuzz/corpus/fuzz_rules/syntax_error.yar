rule broken { condition: 
