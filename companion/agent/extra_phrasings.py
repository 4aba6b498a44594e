"""The second round of train phrasings: more wordings of every family's meaning (chapter 7).

Chapter 7's agent fails mostly on the held-out wordings of meanings it knows: a model trained on
four or five phrasings per family maps the words it saw, not the meaning. These phrasings add
breadth (synonyms, stories, informal requests, other sentence shapes) to the *train* side only.

How they were written, so that validation and test stay honest judges:

- blind: the writer saw each family's gold call and its train phrasings, never the validation
  or test phrasings (five new phrasings per family);
- filtered by a fixed rule, checked in ``tests/test_tasks.py``: a phrasing is dropped when it
  shares a run of four words (slots counted as words) with its family's validation or test
  phrasing that none of the family's train phrasings already has. The rule dropped 31 of 230,
  among them three exact repeats of a validation phrasing, which shows why it is needed. One
  more was dropped by hand: "{a} % {b}" for a remainder, where "%" reads as percent.

:func:`companion.agent.tasks.generate_split` with ``extra=True`` words ``train_extra.jsonl`` with
them; chapter 5's three files do not change.
"""

EXTRA_PHRASINGS: dict[str, tuple[str, ...]] = {
    "add": (
        "{a} and {b} combined come to how much?",
        "Quick one: what do {a} and {b} add up to?",
        "Tell me how much {a} and {b} make altogether.",
    ),
    "add_to": (
        "Take {a} and add {b} on top.",
        "Begin with {a}, then add another {b}. What is the total?",
        "If {a} goes up by {b}, what is the new value?",
        "I have {a} and I add {b} to it. What do I end up with?",
        "Bump {a} up by {b}.",
    ),
    "subtract_from": (
        "Remove {b} from {a}. What remains?",
        "Starting at {a}, take off {b}. What is left?",
        "Deduct {b} from {a}.",
        "Knock {b} off {a}. What number do you get?",
        "Lower {a} by {b}. What is the result?",
    ),
    "difference": (
        "What is the gap between {a} and {b}?",
        "{a} is larger than {b} by how much?",
        "By what amount does {a} surpass {b}?",
        "How much does {b} fall short of {a}?",
        "Find how much greater {a} is compared with {b}.",
    ),
    "more_than": (
        "Which value lies {b} above {a}?",
        "Go {b} higher than {a}. What number is that?",
        "Find the number that exceeds {a} by {b}.",
        "If a number is {b} bigger than {a}, what is it?",
        "Count up {b} from {a}. Where do you land?",
    ),
    "less_than": (
        "Which value lies {b} below {a}?",
        "A number sits {b} under {a}. What is it?",
        "Find the number that falls short of {a} by {b}.",
        "If a number is {b} lower than {a}, what is it?",
        "Count down {b} from {a}. Where do you end up?",
    ),
    "multiply": (
        "Scale {a} by a factor of {b}. What is the result?",
        "{a} groups of {b} make how many?",
        "Tell me what {a} times {b} comes to.",
    ),
    "divide": (
        "How many times does {b} go into {a}?",
        "Split {a} into {b} equal parts. How big is each part?",
        "I need {a} divided by {b}.",
        "Work out {a} split {b} ways.",
        "What is the ratio of {a} to {b}?",
    ),
    "remainder": (
        "Divide {a} by {b}. What remainder do you get?",
        "{a} eggs are packed into cartons of {b}. How many eggs are left over without a full "
        "carton?",
        "What remains after removing as many full groups of {b} from {a} as possible?",
    ),
    "power": (
        "What is the product of {k} copies of {a}?",
        "Take {a} and raise it to the exponent {k}.",
        "What do you get with base {a} and exponent {k}?",
        "Quick one: {a}^{k}?",
        "Work out {a} with an exponent of {k}.",
    ),
    "square": (
        "Multiply {a} by itself.",
        "What is the area of a square whose sides are {a} long?",
        "I need {a} to the second power.",
        "Raise {a} to the power of two.",
        "What number do you get by squaring {a}?",
    ),
    "cube": (
        "Use {a} as a factor three times. What is the product?",
        "A cube has edges of length {a}. What is its volume?",
        "I need {a} to the third power.",
        "Raise {a} to the power of three.",
        "What do you get by cubing {a}?",
    ),
    "percent_of": (
        "A class has {a} students and {p}% of them are absent. How many are absent?",
        "How much is a {p}% share of {a}?",
        "A tip of {p}% on a bill of {a} dollars comes to how much?",
        "Quick one: {p} per cent of {a}?",
        "Of {a} people surveyed, {p}% said yes. How many said yes?",
    ),
    "percent_increase": (
        "{name}'s salary of {a} dollars gets a {p}% raise. What is the new salary?",
        "A meal costs {a} dollars before a {p}% tax is added. What is the total with tax?",
        "What does {a} become after a {p}% increase?",
        "Mark {a} up by {p} percent.",
    ),
    "percent_decrease": (
        "Take {p}% off {a}.",
        "A car worth {a} dollars loses {p}% of its value. What is it worth now?",
        "What is left of {a} after a {p}% cut?",
        "With a {p}% discount, what does a jacket priced at {a} dollars cost?",
    ),
    "what_percent": (
        "Out of {b} questions, a student got {a} right. What percentage is that?",
        "A tank that holds {b} liters contains {a} liters. What percent full is it?",
    ),
    "gain": (
        "A jar holds {a} {items}, and {b} more are dropped in. How many {items} are in the jar "
        "now?",
        "{name} picked {a} {items} and {name2} picked {b}. How many {items} did they pick "
        "together?",
        "Quick one: {name} had {a} {items}, then won {b} more in a game. What's the new total?",
    ),
    "loss": (
        "A basket held {a} {items} until {b} of them went bad and were thrown out. How many "
        "{items} are still in the basket?",
        "{b} of the {a} {items} in the classroom broke. How many still work?",
        "{name2} borrows {b} of {name}'s {a} {items}. How many {items} does {name} still have?",
        "After spending {b} of the {a} dollars in the piggy bank, how much money does {name} "
        "have left?",
    ),
    "groups": (
        "A bus makes {a} trips and carries {b} passengers each time. How many passengers does it "
        "carry in total?",
        "{name} plants {a} rows of {items}, {b} to a row. How many {items} did {name} plant?",
        "A factory fills {a} crates, packing {b} {items} into each. How many {items} were packed?",
        "{name} reads {a} pages a day for {b} days. How many pages is that altogether?",
        "A classroom has {a} tables, each seating {b} students. How many students can sit down?",
    ),
    "share": (
        "{a} students are split into {b} equal teams. How many students are on each team?",
        "{name} drives {a} miles over {b} days, the same distance each day. How far does {name} "
        "drive per day?",
        "A rope {a} meters long is cut into {b} equal pieces. How long is each piece?",
        "A gift costs {a} dollars and {b} friends chip in equally. What is each person's share?",
        "If {a} {items} are dealt out equally to {b} players, how many {items} does each player "
        "get?",
    ),
    "dozen": (
        "A carton holds a dozen eggs. How many eggs are in {n} cartons?",
        "Convert {n} dozen into single units.",
        "{n} dozen {items}: how many individual {items} is that?",
        "{name} receives {n} dozen roses after the show. How many roses is that?",
        "How many pencils are in an order of {n} dozen?",
    ),
    "dozen_plus": (
        "A carton of a dozen eggs sits on the counter, and {name} adds {b} loose ones. How many "
        "eggs are there?",
        "How many {items} do you have with one dozen plus another {b}?",
        "{name} baked a dozen {items} in the morning and {b} in the afternoon. How many {items} "
        "were baked in all?",
        "What number is {b} more than a dozen?",
    ),
    "twice": (
        "What is {a} multiplied by two?",
        "{name} has {a} {items}. {name2} has double that number. How many {items} does {name2} "
        "have?",
        "A recipe needs {a} cups of flour. How much flour is needed for a double batch?",
        "Quick one: two times {a}?",
        "{a} doubled is what?",
    ),
    "triple": (
        "{name} baked {a} {items} on Monday and three times as many on Tuesday. How many were "
        "baked on Tuesday?",
        "Calculate {a} multiplied by three.",
        "I need the value of {a}, tripled.",
        "A recipe needs {a} grams of flour, but {name} is making a triple batch. How many grams "
        "are needed now?",
    ),
    "half": (
        "Divide {a} by two.",
        "{name} and {name2} share {a} {items} equally. How many does each of them get?",
        "A tank holds {a} litres when full and is only half full right now. How many litres are "
        "in it?",
        "What is the result of halving {a}?",
        "Quick one: split {a} into two equal parts. How big is each part?",
    ),
    "quarter": (
        "Divide {a} by four.",
        "{name} sorts {a} {items} into four equal groups. How many are in each group?",
        "If {a} is shared equally among four people, how much does each person get?",
        "A meal costs {a} dollars and {name} pays for one quarter of it. How much does {name} pay?",
        "Quick one: I need a fourth of {a}.",
    ),
    "pairs": (
        "{name} bought {n} pairs of chopsticks. How many individual chopsticks is that?",
        "Count the total number of single shoes in {n} pairs.",
        "There are {n} couples at a dance. How many dancers are there?",
        "A class has {n} pairs of twins. How many children is that?",
        "Quick one: if every pair holds two items, how many items are in {n} pairs?",
    ),
    "per_week": (
        "{name} drinks {a} glasses of water daily. How many glasses over a full week?",
        "A bakery makes {a} {items} every day. What is its weekly total?",
        "If {name} earns {a} dollars per day, what are the weekly earnings?",
        "Each day a printer uses {a} sheets of paper. How many sheets does it use in one week?",
        "Quick one: {a} per day works out to how much per week?",
    ),
    "per_weeks": (
        "A factory turns out {a} {items} daily. What is the output after {n} weeks?",
        "Quick one: {a} per day for {n} weeks, what's the total?",
    ),
    "sum_times": (
        "Compute the total of {a} and {b}, then multiply that total by {c}.",
        "What do you get when {a} and {b} are added together and the sum is multiplied by {c}?",
        "There are {c} boxes, each holding {a} red balls and {b} blue balls. How many balls are "
        "there in total?",
        "Quick one: {a} plus {b}, and then that whole amount times {c}?",
    ),
    "difference_over": (
        "Take {a}, subtract {b}, and split what is left into {c} equal parts. How big is each "
        "part?",
        "A club has {a} dollars, spends {b} dollars, and divides the rest equally among {c} "
        "members. How much does each member get?",
        "Compute {a} less {b}, and then divide that by {c}.",
        "First find {a} minus {b}; then divide the answer by {c}.",
        "Quick one: reduce {a} by {b}, then divide by {c}.",
    ),
    "times_plus": (
        "Compute the product of {a} and {b}, then increase it by {c}.",
        "What do you get if you multiply {a} and {b} together and then add {c}?",
        "There are {a} shelves with {b} books each, plus {c} extra books on the desk. How many "
        "books are there in total?",
        "Start with {a} groups of {b}, then add another {c}. What is the total?",
    ),
    "times_minus": (
        "A crate holds {a} rows of {b} eggs, and {c} eggs break. How many unbroken eggs are left?",
        "What is left when {c} is deducted from {a} times {b}?",
        "Quick one: product of {a} and {b}, less {c}?",
        "First multiply {a} and {b} together; then reduce the result by {c}.",
    ),
    "sum_of_three": (
        "A basket holds {a} apples, {b} pears and {c} plums. How many pieces of fruit are there "
        "in all?",
        "Total up {a}, {b} and {c} for me.",
        "I need the combined value of {a}, {b} and {c}.",
        "Start with {a}, add {b}, then add {c}. What do you get?",
    ),
    "average": (
        "Three test scores are {a}, {b} and {c}. What is the average score?",
        "Add {a}, {b} and {c}, then divide the total by three.",
        "Quick one: mean of {a}, {b}, {c}?",
        "Over three days a shop sold {a}, {b} and {c} umbrellas. How many did it sell per day on "
        "average?",
        "I need the average of these three numbers: {a}, {b}, {c}.",
    ),
    "change": (
        "How much is left from {bill} dollars after buying {n} {items} that cost {p} dollars each?",
        "{name} starts with {bill} dollars and buys {n} {items} costing {p} dollars per item. "
        "How much money does {name} have left?",
        "Each of {n} {items} sells for {p} dollars. If {name} pays with {bill} dollars, what "
        "change should the cashier give?",
    ),
    "cost_plus_fee": (
        "Quick one: {n} {items} at {p} dollars each plus {f} dollars for postage. Grand total?",
        "A gym charges {f} dollars to join and {p} dollars per class. What does {name} pay for "
        "{n} classes, joining fee included?",
        "What is the final bill for {n} {items} costing {p} dollars per unit, with a flat {f} "
        "dollar service charge added?",
        "Including a {f} dollar handling charge, how much do {n} {items} at {p} dollars each "
        "come to?",
    ),
    "convert": (
        "Quick one: {v} {from} to {to}?",
        "Could you tell me what {v} {from} comes to in {to}?",
        "A recipe lists {v} {from}, but I only work in {to}. What's the equivalent?",
        "Turn {v} {from} into {to} for me.",
        "I measured {v} {from}. What would that read in {to}?",
    ),
    "search_year": (
        "Quick one: release year of {subject}?",
        "I'm writing a timeline. Which year should I put down for {subject}?",
        "Can you check what year {subject} was first presented?",
        "Since what year has {subject} been around?",
    ),
    "search_organisation": (
        "Which lab or company is responsible for {subject}?",
        "Quick one: which organisation created {subject}?",
        "I want to cite {subject}. What institution was it developed at?",
        "Find the company or research lab that built {subject}.",
        "{subject} came out of which organisation?",
    ),
    "search_author": (
        "Who was the lead author of the paper introducing {subject}?",
        "Find the researcher who first proposed {subject}.",
        "I'm citing {subject}. Whose name is listed first on the original paper?",
        "{subject} was invented by whom?",
    ),
    "search_parameters": (
        "What is the size of {subject}, measured in number of parameters?",
        "Quick one: parameter count for {subject}?",
        "Find out how many trainable parameters {subject} contains.",
        "I'm comparing model sizes. How many parameters is {subject}?",
        "{subject} has how many parameters in total?",
    ),
    "years_since": (
        "How many years is it from the release of {subject} to {ref}?",
        "Suppose it is {ref}. How long ago, in years, was {subject} released?",
        "Find the year of {subject} and subtract it from {ref}.",
        "I want the gap in years between the debut of {subject} and {ref}.",
    ),
    "years_between": (
        "{first} came out before {second}. By how many years?",
        "Find the years of {first} and {second} and tell me how far apart they are.",
        "How long did it take, in years, to get from {first} to {second}?",
    ),
    "repeat_then_convert": (
        "{name} orders {n} batches, each of {each} {from}. What does it all come to in {to}?",
        "Quick one: {n} portions at {each} {from} apiece, total in {to}?",
        "There are {n} identical containers holding {each} {from} each. Express the combined "
        "amount in {to}.",
        "If you take {n} lots of {each} {from}, how many {to} do you have altogether?",
    ),
    "convert_then_split": (
        "Quick one: {v} {from} split {n} ways, how many {to} per share?",
        "Share {v} {from} equally among {n} containers and give each container's amount in {to}.",
        "{v} {from} gets divided into {n} equal pieces. What is the size of one piece in {to}?",
        "First express {v} {from} in {to}, then divide that by {n}.",
        "A team of {n} splits {v} {from} evenly. How much does each member end up with, in {to}?",
    ),
}
